package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/report"
)

// TestDiffLists: two image lists are compared by container: what was added, removed and
// changed (the fields that differ, old -> new), as text and as --json; the delta is not known
// without two bundles. Two arguments are needed.
func TestDiffLists(t *testing.T) {
	dir := t.TempDir()
	w := &world{dir: dir}
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	old := []digests.Image{
		{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "docker.io", Path: "library/nginx", Tag: "1.25"}, Digest: d('1')},
		{Entry: imageref.Entry{Component: "db", Container: "postgres", Server: "docker.io", Path: "library/postgres", Tag: "15"}, Digest: d('2')},
		{Entry: imageref.Entry{Component: "cache", Container: "redis", Server: "docker.io", Path: "library/redis", Tag: "7"}},
	}
	new := []digests.Image{
		old[0],
		{Entry: imageref.Entry{Component: "db", Container: "postgres", Server: "docker.io", Path: "library/postgres", Tag: "16"}, Digest: d('3')},
		{Entry: imageref.Entry{Component: "auth", Container: "keycloak", Server: "quay.io", Path: "keycloak/keycloak", Tag: "24"}},
	}
	a, b := w.writeList(t, "old.yml", old), w.writeList(t, "new.yml", new)

	r := runMain("bundle", "", "diff", a, b)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "diff", r.stdout, "old: "+a, "new: "+b, "auth.keycloak", "cache.redis", "db.postgres", "15 -> 16", "delta: not known")
	if strings.Contains(r.stdout, "web.nginx") {
		t.Errorf("an unchanged container is listed:\n%s", r.stdout)
	}

	dr := decode[report.Diff](t, "diff --json", runMain("unbundle", "", "diff", "--json", a, b), ExitOK)
	if dr.Command != "diff" || dr.Old != a || dr.New != b || dr.Unchanged != 1 || dr.Delta != nil ||
		len(dr.Added) != 1 || dr.Added[0].Key != "auth.keycloak" || dr.Added[0].Server != "quay.io" ||
		len(dr.Removed) != 1 || dr.Removed[0].Key != "cache.redis" ||
		len(dr.Changed) != 1 || dr.Changed[0].Key != "db.postgres" {
		t.Fatalf("report %+v", dr)
	}
	fields := map[string][2]string{}
	for _, f := range dr.Changed[0].Fields {
		fields[f.Field] = [2]string{f.Old, f.New}
	}
	if fields["tag"] != [2]string{"15", "16"} || fields["digest"] != [2]string{d('2'), d('3')} || len(fields) != 2 {
		t.Errorf("fields %v", fields)
	}

	same := decode[report.Diff](t, "diff of one list", runMain("bundle", "", "diff", "--json", a, a), ExitOK)
	if same.Unchanged != 3 || len(same.Added)+len(same.Removed)+len(same.Changed) != 0 {
		t.Errorf("a list against itself: %+v", same)
	}

	for _, args := range [][]string{{"diff"}, {"diff", a}, {"diff", a, b, a}} {
		r := runMain("bundle", "", args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "diff: want two arguments, OLD and NEW") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	r = runMain("bundle", "", "diff", a, filepath.Join(dir, "nope.yml"))
	if r.code == ExitOK || !strings.Contains(r.stderr, "nope.yml") {
		t.Errorf("a list not there: exit %d: %s", r.code, r.stderr)
	}
}

// TestDiffBundles: two bundles give the delta: the blobs of NEW that OLD does not hold.
func TestDiffBundles(t *testing.T) {
	w := newWorld(t, 141)
	first := filepath.Join(w.dir, "first.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", first, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	part := w.writeList(t, "part.yml", w.images[:1])
	second := filepath.Join(w.dir, "second.tar.zst")
	if r := runMain("bundle", "", "create", "--images", part, "-o", second, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	dr := decode[report.Diff](t, "diff", runMain("bundle", "", "diff", "--json", first, second), ExitOK)
	if dr.Delta == nil || dr.Delta.Blobs != 0 || dr.Delta.Bytes != 0 || dr.Delta.TotalBlobs == 0 || len(dr.Removed) != 2 || dr.Unchanged != 1 {
		t.Errorf("a bundle of less: %+v (delta %+v)", dr, dr.Delta)
	}
	dr = decode[report.Diff](t, "diff", runMain("bundle", "", "diff", "--json", second, first), ExitOK)
	if dr.Delta == nil || dr.Delta.Blobs == 0 || dr.Delta.Blobs >= dr.Delta.TotalBlobs || dr.Delta.Bytes == 0 || len(dr.Added) != 2 {
		t.Errorf("a bundle of more: %+v (delta %+v)", dr, dr.Delta)
	}
	r := runMain("bundle", "", "diff", second, first)
	mustSay(t, "diff", r.stdout, "delta: ", "what NEW holds that OLD does not")
}
