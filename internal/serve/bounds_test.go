package serve

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// allocated runs fn and returns the bytes it allocated (all goroutines': run nothing else).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func openBundle(t *testing.T, images []testbundle.Image, blobs []testbundle.Blob) *archive.Bundle {
	t.Helper()
	path, err := testbundle.Write(t.TempDir(), "b", images, blobs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestServeFanOut: an index listing the same child many times over several levels (issue 19:
// a 6.7 KB bundle made serve take 1.8 GB and 107 s before listening) is indexed once per
// digest: New returns within the 10 s bound having allocated far less than 256 MiB, and the
// image is served.
func TestServeFanOut(t *testing.T) {
	blobs := testbundle.FanOut(60, 4) // 60^4 = 13 million manifests as a tree
	b := openBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "fan", Tag: "1", Root: blobs[0]}}, blobs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r *Registry
	var err error
	alloc := allocated(func() { r, err = New(ctx, []*archive.Bundle{b}) })
	if err != nil {
		t.Fatal(err)
	}
	if alloc > 256<<20 {
		t.Errorf("New allocated %d MiB for a fan-out index", alloc>>20)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/v2/fan/manifests/1", nil))
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), blobs[0].Data) {
		t.Errorf("GET the fan-out index: %d", w.Code)
	}
}

// TestServeManifestBomb: a manifest-type blob of many MiB that compresses well (issue 19: a
// 100 KB bundle made push reach 1.7 GB) is refused from the bundle's record of its size,
// before it is read: New fails with a corrupt bundle (exit 3) naming the image and the blob.
func TestServeManifestBomb(t *testing.T) {
	fan := testbundle.FanOut(1, 0)
	config, layer := fan[1], fan[2]
	cd, ld := config.Descriptor(), layer.Descriptor()
	raw := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	bomb := testbundle.Blob{Data: append(raw, bytes.Repeat([]byte(" "), 32<<20)...), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	bd := bomb.Descriptor()
	index := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{bd}}),
		MediaType: manifest.OCIIndex, Kind: archive.KindIndex}
	for name, root := range map[string]testbundle.Blob{"the image's manifest": bomb, "a child of its index": index} {
		t.Run(name, func(t *testing.T) {
			blobs := []testbundle.Blob{bomb, config, layer}
			if root.Kind == archive.KindIndex {
				blobs = append([]testbundle.Blob{root}, blobs...)
			}
			b := openBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "bomb", Tag: "1", Root: root}}, blobs)
			var err error
			alloc := allocated(func() { _, err = New(context.Background(), []*archive.Bundle{b}) })
			if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrTooLarge) ||
				!strings.Contains(err.Error(), "c.x") || !strings.Contains(err.Error(), bd.Digest) {
				t.Fatalf("got %v, want a corrupt bundle naming c.x and %s", err, bd.Digest)
			}
			if alloc > 16<<20 {
				t.Errorf("New allocated %d MiB refusing a 32 MiB manifest", alloc>>20)
			}
		})
	}
}

// TestServeManifestTotal: bundles whose manifests pass manifest.MaxTotalBytes in all (each
// under MaxBytes: many distinct ones that compress to nothing) are refused before one is read.
func TestServeManifestTotal(t *testing.T) {
	images, blobs := testbundle.Heavy()
	b := openBundle(t, images, blobs)
	var err error
	alloc := allocated(func() { _, err = New(context.Background(), []*archive.Bundle{b}) })
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrGraph) {
		t.Fatalf("got %v, want a corrupt bundle, its manifests too large in all", err)
	}
	if alloc > 16<<20 {
		t.Errorf("New allocated %d MiB refusing it", alloc>>20)
	}
}
