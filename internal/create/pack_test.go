package create

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/digests"
)

func digestOf(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// TestPlan: what a run would pull is every blob not held in memory and not in the cache;
// what the base has is counted apart; a cache directory that does not exist holds nothing
// (and is not created by looking).
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	cd, err := cache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cd.Put(digestOf('b'), func(w io.Writer) error { _, err := w.Write([]byte("frame")); return err }); err != nil {
		t.Fatal(err)
	}
	blobs := []*blob{
		{Blob: archive.Blob{Digest: digestOf('m'), Size: 10, Kind: archive.KindManifest}, data: make([]byte, 10)},
		{Blob: archive.Blob{Digest: digestOf('c'), Size: 20, Kind: archive.KindConfig}, data: make([]byte, 20)},
		{Blob: archive.Blob{Digest: digestOf('a'), Size: 1000, Kind: archive.KindLayer}},
		{Blob: archive.Blob{Digest: digestOf('b'), Size: 300, Kind: archive.KindLayer}},
	}
	external := []archive.Blob{{Digest: digestOf('e'), Size: 5000}, {Digest: digestOf('f'), Size: 7}}
	missingDir := filepath.Join(dir, "not-yet")
	for _, tc := range []struct {
		name string
		dir  string
		want Plan
	}{
		{"no cache", "", Plan{Blobs: 4, Bytes: 1330, Pull: 1300, External: 2, ExternalBytes: 5007}},
		{"a cache holding one layer", dir, Plan{Blobs: 4, Bytes: 1330, Cached: 1, CachedBytes: 300, Pull: 1000, External: 2, ExternalBytes: 5007}},
		{"a cache not made yet", missingDir, Plan{Blobs: 4, Bytes: 1330, Pull: 1300, External: 2, ExternalBytes: 5007}},
	} {
		if got := plan(blobs, external, tc.dir); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, err := os.Stat(missingDir); !os.IsNotExist(err) {
		t.Errorf("planning made the cache directory: %v", err)
	}
	if got := plan(nil, nil, dir); got != (Plan{}) {
		t.Errorf("nothing: %+v", got)
	}
}

// TestCreateCache: with a cache, the first run fills it with every layer; a second run pulls
// no layer (only the configs its resolution reads) and writes the same bytes; a cache entry
// that went bad is pulled again, and the bundle is still the same. The progress reaches its
// total and never passes it.
func TestCreateCache(t *testing.T) {
	up, images := tinyWorld(t, 51)
	dir := filepath.Join(t.TempDir(), "cache")
	c := newClient(t)
	list := &digests.List{File: "l.yml", Images: images}
	run := func(name string) (*Created, int64) {
		t.Helper()
		before := up.BlobBytesSent()
		m := &meter{}
		out := filepath.Join(t.TempDir(), name+".tar.zst")
		res, err := createIn(t, c, CreateOptions{List: list, Output: out, Cache: dir, Progress: m})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v, err := trust.Verify(t.Context(), out, nil); err != nil || len(v.Bad) > 0 {
			t.Fatalf("%s: verify: %+v, %v", name, v, err)
		}
		if m.over.Load() || m.n.Load() != m.total.Load() {
			t.Errorf("%s: progress %d of %d (over: %v)", name, m.n.Load(), m.total.Load(), m.over.Load())
		}
		return res, up.BlobBytesSent() - before
	}
	first, sent := run("first")
	var layerBytes, configBytes int64
	var layers []archive.Blob
	for _, b := range first.Manifest.Blobs {
		switch b.Kind {
		case archive.KindLayer:
			layerBytes += b.Size
			layers = append(layers, b)
			if !cache.Exists(dir, b.Digest) {
				t.Errorf("layer %s not cached", b.Digest)
			}
		case archive.KindConfig:
			configBytes += b.Size
		}
	}
	if sent < layerBytes || first.Plan.Cached != 0 || first.Plan.Pull != layerBytes {
		t.Errorf("first run: sent %d, layers %d, plan %+v", sent, layerBytes, first.Plan)
	}

	second, sent := run("second")
	if sent > configBytes || second.Plan.Cached != len(layers) || second.Plan.Pull != 0 || second.Plan.CachedBytes != layerBytes {
		t.Errorf("second run: sent %d (configs %d), plan %+v", sent, configBytes, second.Plan)
	}
	if second.SHA256 != first.SHA256 {
		t.Errorf("the cached run wrote another bundle: %s, %s", second.SHA256, first.SHA256)
	}

	bad := layers[0]
	cd, _ := cache.Open(dir)
	f, err := cd.Open(bad.Digest)
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	f.Close()
	if err := os.WriteFile(path, []byte("not the frame it was"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, sent := run("third")
	if sent < bad.Size || sent > bad.Size+configBytes || third.SHA256 != first.SHA256 {
		t.Errorf("a bad cache entry: sent %d (the layer is %d, configs %d), sha256 %s", sent, bad.Size, configBytes, third.SHA256)
	}
	if _, sent := run("fourth"); sent > configBytes {
		t.Errorf("the entry pulled again was not cached: sent %d", sent)
	}
}
