package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/report"
	"go.yaml.in/yaml/v3"
)

// runDiff runs diff --json and reads what it prints strictly as docs/json.md documents it.
func runDiff(t *testing.T, prog, old, new string) report.Diff {
	t.Helper()
	r := must(t, runCmd(prog, nil, "diff", "--json", old, new))
	var d report.Diff
	if err := report.Decode([]byte(r.stdout), &d); err != nil {
		t.Fatalf("diff --json: %v\n%s", err, r.stdout)
	}
	return d
}

// TestDiffBundles: a bundle without the synapse component against the full one. The delta
// counts exactly the blobs of the full bundle that the small one lacks, and nothing the other
// way round.
func TestDiffBundles(t *testing.T) {
	t.Parallel()
	w := setup(t)
	small := filepath.Join(t.TempDir(), "small.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", w.list, "--exclude", "synapse", "--output", small))

	var synapse []string
	for _, im := range w.images {
		if im.Component == "synapse" {
			synapse = append(synapse, im.Key())
		}
	}
	slices.Sort(synapse)

	up := runDiff(t, "bundle", small, w.bundle)
	var added []string
	for _, a := range up.Added {
		added = append(added, a.Key)
	}
	if !slices.Equal(added, synapse) || len(up.Removed) != 0 || len(up.Changed) != 0 || up.Unchanged != len(w.images)-len(synapse) {
		t.Errorf("small -> full: added %v (want %v), removed %v, changed %v, unchanged %d", added, synapse, up.Removed, up.Changed, up.Unchanged)
	}
	smallM, fullM := mustOpenManifest(t, small), mustOpenManifest(t, w.bundle)
	has := map[string]bool{}
	for _, b := range smallM.Blobs {
		has[b.Digest] = true
	}
	var wantBlobs int
	var wantBytes int64
	for _, b := range fullM.Blobs {
		if !has[b.Digest] {
			wantBlobs++
			wantBytes += b.Size
		}
	}
	if d := up.Delta; d == nil || d.Blobs != wantBlobs || d.Bytes != wantBytes || d.TotalBlobs != fullM.Totals.Blobs || d.TotalBytes != fullM.Totals.BlobBytes {
		t.Errorf("delta %+v, want %d blobs, %d bytes of %d, %d", d, wantBlobs, wantBytes, fullM.Totals.Blobs, fullM.Totals.BlobBytes)
	}
	if wantBlobs == 0 || wantBytes >= fullM.Totals.BlobBytes {
		t.Errorf("fixture gives a degenerate delta: %d blobs, %d of %d bytes", wantBlobs, wantBytes, fullM.Totals.BlobBytes)
	}

	// Downgrading needs nothing: every blob of the small bundle is in the full one. The
	// bastion's unbundle has the same command.
	down := runDiff(t, "unbundle", w.bundle, small)
	if d := down.Delta; d == nil || d.Blobs != 0 || d.Bytes != 0 || len(down.Removed) != len(synapse) || len(down.Added) != 0 {
		t.Errorf("full -> small: %+v", down)
	}

	// Text: the summary and the delta line.
	r := must(t, runCmd("bundle", nil, "diff", small, w.bundle))
	if !strings.Contains(r.stdout, "added    synapse.synapse") || !strings.Contains(r.stdout, "delta: ") ||
		!strings.Contains(r.stdout, "0 removed, 0 changed,") {
		t.Errorf("diff text:\n%s", r.stdout)
	}
}

// TestDiffListAgainstBundle: the list a bundle was made from has nothing to report against it;
// a changed tag and digest in the list are reported, with no delta (a list has no blobs).
func TestDiffListAgainstBundle(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d := runDiff(t, "bundle", w.list, w.bundle)
	if len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.Unchanged != len(w.images) || d.Delta != nil {
		t.Errorf("list -> its own bundle: %+v", d)
	}

	images := slices.Clone(w.images)
	old := images[0]
	images[0].Tag = "older"
	images[0].Digest = "sha256:" + strings.Repeat("0", 64)
	yml, err := digests.Marshal(images)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "older.yml")
	if err := os.WriteFile(list, yml, 0o644); err != nil {
		t.Fatal(err)
	}
	r := must(t, runCmd("bundle", nil, "diff", list, w.bundle))
	want := "changed  " + old.Key() + "\n           tag     older -> " + old.Tag + "\n           digest  sha256:" + strings.Repeat("0", 64) + " -> " + old.Digest + "\n"
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "delta: not known") {
		t.Errorf("diff text lacks\n%s\ngot:\n%s", want, r.stdout)
	}

	for _, args := range [][]string{{"diff", w.list}, {"diff", w.list, w.bundle, w.list}} {
		if r := runCmd("bundle", nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
}

// TestPushHelmValues: push --helm-values writes a matrix-stack values file whose images are the
// pushed ones, by digest, under --configmap-server; --helm-map changes the map; a bad map stops
// the command before it talks to the registry.
func TestPushHelmValues(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	r := must(t, runCmd("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm.yaml"),
		"--configmap-server", "localregistry.local", "--helm-values", values)...))
	if !strings.Contains(r.stderr, "not mapped") || !strings.Contains(r.stderr, "adminbot.haproxy") {
		t.Errorf("stderr does not list the unmapped containers:\n%s", r.stderr)
	}
	tree := readValues(t, values)
	m := digests.DefaultHelmMap()
	mapped := 0
	for _, up := range w.images {
		path, ok := m[up.Key()]
		if !ok {
			continue
		}
		mapped++
		want := map[string]any{"registry": "localregistry.local", "repository": up.Path, "tag": up.Tag, "digest": up.Digest}
		if got := at(tree, path); !equalValues(got, want) {
			t.Errorf("%s at %s: %v, want %v", up.Key(), path, got, want)
		}
	}
	if mapped < 5 {
		t.Fatalf("only %d fixture containers are mapped: the test proves little", mapped)
	}

	// A user map: Redis where older charts had it, HAProxy left out.
	hmap := filepath.Join(dir, "map.yaml")
	os.WriteFile(hmap, []byte("synapse.redis: synapse.redis.image\nsynapse.haproxy: null\n"), 0o644)
	must(t, runCmd("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm2.yaml"),
		"--helm-values", values, "--helm-map", hmap)...))
	tree = readValues(t, values)
	if at(tree, "synapse.redis.image") == nil || at(tree, "redis.image") != nil || at(tree, "haproxy.image") != nil {
		t.Errorf("--helm-map not applied: %v", tree)
	}
	if got := at(tree, "synapse.image"); got == nil || got.(map[string]any)["registry"] != reg.Host {
		t.Errorf("without --configmap-server the registry is the push host %s: %v", reg.Host, got)
	}

	// A bad map, or a map without values, stops the command before it reaches the registry.
	os.WriteFile(hmap, []byte("synapse.redis: redis.image.digest\n"), 0o644)
	before := reg.Requests()
	if r := runCmd("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm3.yaml"),
		"--helm-values", values, "--helm-map", hmap)...); r.code != 1 || !strings.Contains(r.stderr, "invalid Helm map") {
		t.Errorf("bad --helm-map: exit %d\n%s", r.code, r.stderr)
	}
	if r := runCmd("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm4.yaml"),
		"--helm-map", hmap)...); r.code != 2 {
		t.Errorf("--helm-map without --helm-values: exit %d\n%s", r.code, r.stderr)
	}
	if n := reg.Requests() - before; n != 0 {
		t.Errorf("the refused commands sent %d requests to the registry", n)
	}
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tree
}

// at returns the value at a dot-separated path, or nil.
func at(tree map[string]any, path string) any {
	var n any = tree
	for _, seg := range strings.Split(path, ".") {
		m, ok := n.(map[string]any)
		if !ok {
			return nil
		}
		n = m[seg]
	}
	return n
}

func equalValues(got any, want map[string]any) bool {
	m, ok := got.(map[string]any)
	if !ok || len(m) != len(want) {
		return false
	}
	for k, v := range want {
		if m[k] != v {
			return false
		}
	}
	return true
}
