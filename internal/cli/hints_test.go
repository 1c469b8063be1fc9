package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
)

// TestFlagHint: the registry client's typed errors, however deep they are wrapped, get the
// flag that mends them; others get none, and the hint keeps what the error matches.
func TestFlagHint(t *testing.T) {
	for _, tc := range []struct {
		err  error
		flag string // in the hint; "" for none
	}{
		{oci.ErrUnknownCA, "--ca-file"},
		{oci.ErrSpeaksHTTP, "--plain-http"},
		{oci.ErrPlainHTTP, "--plain-http"},
		{oci.ErrNoCredentials, "--username"},
		{oci.ErrUnauthorized, ""}, // credentials given and refused: no flag helps
		{oci.ErrNotFound, ""},
		{errors.New("disk full"), ""},
	} {
		err := fmt.Errorf("push synapse: %w", fmt.Errorf("registry reg.example: %w", tc.err))
		hint := flagHint(err)
		if (tc.flag == "") != (hint == "") || !strings.Contains(hint, tc.flag) {
			t.Errorf("%v: hint %q, want one naming %q", tc.err, hint, tc.flag)
		}
		got := withHint(err)
		if !errors.Is(got, tc.err) || !strings.HasPrefix(got.Error(), err.Error()) || !strings.HasSuffix(got.Error(), hint) {
			t.Errorf("%v: withHint = %q", tc.err, got)
		}
	}
}

// TestOptionError: what the registry client refuses in its options comes back naming the flag
// it came from: --mirror (a usage error, exit 2) and --ca-file.
func TestOptionError(t *testing.T) {
	_, err := oci.ParseMirror("docker.io")
	uerr := optionError(err)
	var ue *usageError
	if !errors.As(uerr, &ue) || !strings.HasPrefix(uerr.Error(), `--mirror "docker.io": want REGISTRY=LOCATION`) {
		t.Errorf("a bad mirror: %v", uerr)
	}
	_, err = oci.New(oci.WithMirror(oci.Mirror{Registry: "docker.io", Location: "a.corp"}), oci.WithMirror(oci.Mirror{Registry: "docker.io", Location: "b.corp"}))
	if uerr := optionError(err); !errors.As(uerr, &ue) || !strings.HasPrefix(uerr.Error(), "--mirror: two mirrors for docker.io") {
		t.Errorf("two mirrors: %v", uerr)
	}
	_, err = oci.New(oci.WithTimeout(0))
	if uerr := optionError(err); !errors.As(uerr, &ue) || !strings.Contains(uerr.Error(), "timeout") {
		t.Errorf("a bad timeout: %v", uerr)
	}
	missing := filepath.Join(t.TempDir(), "ca.pem")
	_, err = oci.New(oci.WithCAFile(missing))
	cerr := optionError(err)
	if !errors.Is(cerr, oci.ErrCAFile) || errors.As(cerr, &ue) || !strings.HasPrefix(cerr.Error(), "--ca-file: ") || !strings.Contains(cerr.Error(), missing) {
		t.Errorf("a missing CA file: %v", cerr)
	}
	if exitCode(context.Background(), cerr) != ExitError {
		t.Errorf("a missing CA file: exit %d, want %d", exitCode(context.Background(), cerr), ExitError)
	}
	if optionError(errors.New("other")) != nil {
		t.Error("an error that is no option's: named a flag")
	}
}

// TestRegistryFlagErrors: the registry flags' bad values, through the command: --jobs below 1
// and a bad --mirror are usage errors (exit 2) naming the flag; a CA file that is not there
// names --ca-file and the file (exit 1). None reaches a registry.
func TestRegistryFlagErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	missing := filepath.Join(t.TempDir(), "ca.pem")
	for _, tc := range []struct {
		flags []string
		code  int
		want  string
	}{
		{[]string{"--jobs", "0"}, ExitUsage, "--jobs must be at least 1, got 0"},
		{[]string{"--mirror", "docker.io"}, ExitUsage, `--mirror "docker.io": want REGISTRY=LOCATION[/PREFIX]`},
		{[]string{"--ca-file", missing}, ExitError, "--ca-file: unusable CA file: open " + missing},
	} {
		args := append([]string{"create", "--image", "127.0.0.1:1/ess/app:1.0", "--output", out}, tc.flags...)
		r := runMain("bundle", "", args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", tc.flags, r.code, tc.code, tc.want, r.stderr)
		}
	}
}

// TestLowerLayerFlagErrors: the typed errors of the layers below that a flag can mend come
// back naming the flag, still matching what they matched; other errors come back unchanged.
func TestLowerLayerFlagErrors(t *testing.T) {
	_, noHelm := chart.Render(context.Background(), nil, chart.RenderOptions{Helm: filepath.Join(t.TempDir(), "helm")})
	_, badImage := digests.ParseExtra("a.b.c=x:1")
	taken := &digests.TakenError{Ref: "docker.io/library/x:2", Key: "extra.x", By: "docker.io/library/x:1"}
	base := &delta.BaseError{Path: "inv.json", Err: fmt.Errorf("open inv.json: %w", os.ErrNotExist)}
	for _, tc := range []struct {
		name  string
		fn    func(error) error
		err   error  // the lower layer's
		match error  // what the result must still match
		want  string // the result's whole text
	}{
		{"trusted root not fetched", trustedRootError, fmt.Errorf("%w: fetching it over TUF from https://tuf.example: timeout", provenance.ErrTrustedRootFetch),
			provenance.ErrTrustedRoot, "sigstore trusted root: fetching it over TUF from https://tuf.example: timeout; give --trusted-root FILE"},
		{"no helm binary", helmError, noHelm, chart.ErrNoHelm, noHelm.Error() + ": install helm, or name it with --helm BINARY"},
		{"a bad --image", imageError, badImage, digests.ErrInvalidList, "--image " + badImage.Error()},
		{"an --image of a name taken", imageError, fmt.Errorf("create: %w", taken), digests.ErrInvalidList,
			"--image docker.io/library/x:2: invalid image list: extra.x is taken by --image docker.io/library/x:1: name it with --image COMPONENT.CONTAINER=docker.io/library/x:2"},
		{"a --since not there", sinceError, base, os.ErrNotExist, "--since: open inv.json: file does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.fn(tc.err)
			if !errors.Is(got, tc.match) || got.Error() != tc.want {
				t.Errorf("got %q, want %q (matching %v)", got, tc.want, tc.match)
			}
			other := fmt.Errorf("%w: unreadable", provenance.ErrTrustedRoot)
			if got := tc.fn(other); got != other {
				t.Errorf("another error: %v, want it unchanged", got)
			}
		})
	}
}
