package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/urfave/cli/v2"
)

// TestPrintFailures: failures are told by cause, the largest group first: a cause that hit one
// container is its whole message; one that hit several names the cause once, how many, and the
// containers, with their images while the group is small.
func TestPrintFailures(t *testing.T) {
	full := func(what string) error {
		return fmt.Errorf("%s: %w", what, &oci.StatusError{What: "upload blob to " + what, Code: 500, Reg: "UNKNOWN", Message: "no space left on device"})
	}
	failed := map[string]error{
		"web.nginx":     full("web.nginx"),
		"db.postgres":   full("db.postgres"),
		"cache.redis":   full("cache.redis"),
		"auth.keycloak": fmt.Errorf("auth.keycloak (r/keycloak:1): %w", &oci.StatusError{What: "get manifest r/keycloak:1", Code: 404, Reg: "MANIFEST_UNKNOWN", Message: "manifest unknown"}),
	}
	refs := map[string]string{"web.nginx": "r/nginx:1", "db.postgres": "r/postgres:16", "cache.redis": "r/redis:7"}
	var buf bytes.Buffer
	printFailures(&env{stderr: &buf}, failed, refs)
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[0], "FAILED 3 containers: HTTP 500") || !strings.Contains(lines[0], "no space left on device") || strings.Contains(lines[0], "upload blob") {
		t.Errorf("the group's cause: %q", lines[0])
	}
	if lines[1] != "    cache.redis (r/redis:7), db.postgres (r/postgres:16), web.nginx (r/nginx:1)" {
		t.Errorf("the group's containers: %q", lines[1])
	}
	if lines[2] != "FAILED auth.keycloak: "+failed["auth.keycloak"].Error() {
		t.Errorf("the single failure: %q", lines[2])
	}

	// A large group is about the registry: the containers' names say enough.
	many := map[string]error{}
	for i := range maxNamedRefs + 1 {
		k := fmt.Sprintf("c%d.x", i)
		many[k] = fmt.Errorf("%s: %w", k, oci.ErrUnauthorized)
		refs[k] = "r/image" + k
	}
	buf.Reset()
	printFailures(&env{stderr: &buf}, many, refs)
	if strings.Contains(buf.String(), "r/image") || !strings.HasPrefix(buf.String(), fmt.Sprintf("FAILED %d containers: ", maxNamedRefs+1)) {
		t.Errorf("a large group:\n%s", buf.String())
	}
	buf.Reset()
	printFailures(&env{stderr: &buf}, nil, nil)
	if buf.Len() != 0 {
		t.Errorf("nothing failed, yet: %q", buf.String())
	}
}

func TestWrapList(t *testing.T) {
	for _, tc := range []struct {
		items []string
		width int
		want  string
	}{
		{[]string{"a"}, 10, "  a\n"},
		{[]string{"aa", "bb", "cc"}, 100, "  aa, bb, cc\n"},
		{[]string{"aaaa", "bbbb", "cccc"}, 11, "  aaaa,\n  bbbb,\n  cccc\n"},
		{[]string{"aaaa", "bbbb", "cccc"}, 12, "  aaaa,\n  bbbb, cccc\n"},
		{[]string{"aaaa", "bbbb", "cccc"}, 14, "  aaaa, bbbb,\n  cccc\n"},
		{[]string{strings.Repeat("x", 30), "y"}, 10, "  " + strings.Repeat("x", 30) + ",\n  y\n"},
	} {
		if got := wrapList("  ", tc.items, tc.width); got != tc.want {
			t.Errorf("wrapList(%v, %d) = %q, want %q", tc.items, tc.width, got, tc.want)
		}
	}
}

// TestPartialAllowed: what needs every container is refused for a partial bundle (exit 4, the
// missing named, --allow-partial said), unless --allow-partial; a complete bundle passes.
func TestPartialAllowed(t *testing.T) {
	m := &archive.Manifest{Missing: []archive.Missing{
		{Entry: imageref.Entry{Component: "db", Container: "postgres", Server: "r", Path: "postgres", Tag: "16"}, Reason: "gone"},
	}}
	ctx := func(allow bool) *cli.Context {
		fs := flag.NewFlagSet("push", flag.ContinueOnError)
		fs.Bool("allow-partial", allow, "")
		return cli.NewContext(&cli.App{}, fs, nil)
	}
	err := partialAllowed(ctx(false), m, "no ConfigMap written", "ConfigMap")
	if !errors.Is(err, mirror.ErrPartial) || exitCode(t.Context(), err) != ExitPartial {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{"1 containers missing: db.postgres (r/postgres:16)", "no ConfigMap written", "--allow-partial to write the ConfigMap"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%v: does not say %q", err, s)
		}
	}
	if err := partialAllowed(ctx(true), m, "x", "y"); err != nil {
		t.Errorf("with --allow-partial: %v", err)
	}
	if err := partialAllowed(ctx(false), &archive.Manifest{}, "x", "y"); err != nil {
		t.Errorf("a complete bundle: %v", err)
	}
}

// TestImageRefs: every container of a bundle, carried or missing, maps to its source image.
func TestImageRefs(t *testing.T) {
	m := &archive.Manifest{
		Images:  []archive.Image{{Entry: imageref.Entry{Component: "a", Container: "b", Server: "r", Path: "p", Tag: "1"}}},
		Missing: []archive.Missing{{Entry: imageref.Entry{Component: "c", Container: "d", Server: "r", Path: "q"}, ListedDigest: "sha256:" + strings.Repeat("1", 64)}},
	}
	got := imageRefs(m)
	if len(got) != 2 || got["a.b"] != "r/p:1" || !strings.HasPrefix(got["c.d"], "r/q@sha256:111") {
		t.Errorf("refs %v", got)
	}
	if s := missingSummary(m.Missing); !strings.HasPrefix(s, "partial: 1 containers missing: c.d (r/q@sha256:") {
		t.Errorf("summary %q", s)
	}
}

// TestSourceRefs: a run that pulled nothing still names every container's image (and so its
// registry): from the list, --image and the charts' blocks.
func TestSourceRefs(t *testing.T) {
	list := &digests.List{Images: []digests.Image{{Entry: imageref.Entry{Component: "a", Container: "b", Server: "r1", Path: "p", Tag: "1"}}}}
	extra := []digests.Image{{Entry: imageref.Entry{Component: "extra", Container: "x", Server: "r2", Path: "x"}, Digest: "sha256:" + strings.Repeat("2", 64)}}
	ch := &create.Chart{Chart: &chart.Chart{Name: "stack"}, Blocks: []chart.Block{{Path: "synapse.image", Registry: "r3", Repository: "s", Tag: "3"}}}
	got := sourceRefs(list, extra, []*create.Chart{ch})
	want := map[string]string{"a.b": "r1/p:1", "extra.x": "r2/x@" + extra[0].Digest, "stack.synapse.image": "r3/s:3"}
	if len(got) != len(want) {
		t.Fatalf("refs %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if got := sourceRefs(nil, extra, nil); len(got) != 1 || got["extra.x"] == "" {
		t.Errorf("no list: %v", got)
	}
	if n := len(list.Images); n != 1 {
		t.Errorf("the list was changed: %d images", n)
	}
}
