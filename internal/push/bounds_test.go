package push

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// allocated runs fn and returns the bytes allocated meanwhile (by every goroutine).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func openTestBundle(t *testing.T, images []testbundle.Image, blobs []testbundle.Blob) *archive.Bundle {
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

// TestPushFanOut: an index listing the same child many times over several levels (issue 19:
// push took more than 90 s on a 6.7 KB bundle) is read, and its manifests pushed, once per
// digest: the push ends within the 10 s bound, and the registry serves the index.
func TestPushFanOut(t *testing.T) {
	blobs := testbundle.FanOut(60, 4)
	b := openTestBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "fan", Tag: "1", Root: blobs[0]}}, blobs)
	dest := testregistry.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res *Pushed
	var err error
	alloc := allocated(func() { res, err = Push(ctx, newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}}) })
	if err != nil {
		t.Fatal(err)
	}
	if alloc > 256<<20 {
		t.Errorf("push allocated %d MiB", alloc>>20)
	}
	if got := res.Stats.ManifestsPushed; got != 5 {
		t.Errorf("%d manifests pushed, want 5 (one per digest)", got)
	}
	if len(res.Images) != 1 || res.Images[0].Digest != blobs[0].Digest() {
		t.Errorf("pushed %+v", res.Images)
	}
}

// TestPushManifestBomb: a manifest-type blob of many MiB that compresses well (issue 19: a
// 100 KB bundle made push reach 1.7 GB) is refused from the bundle's record of its size,
// before it is read: a corrupt bundle (exit 3) naming the image and the blob.
func TestPushManifestBomb(t *testing.T) {
	fan := testbundle.FanOut(1, 0)
	config, layer := fan[1], fan[2]
	cd, ld := config.Descriptor(), layer.Descriptor()
	raw := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	bomb := testbundle.Blob{Data: append(raw, bytes.Repeat([]byte("\n"), 32<<20)...), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	bd := bomb.Descriptor()
	index := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{bd}}),
		MediaType: manifest.OCIIndex, Kind: archive.KindIndex}
	b := openTestBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "bomb", Tag: "1", Root: index}},
		[]testbundle.Blob{index, bomb, config, layer})
	dest := testregistry.StartT(t)
	var err error
	alloc := allocated(func() {
		_, err = Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}})
	})
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrTooLarge) ||
		!strings.Contains(err.Error(), "c.x") || !strings.Contains(err.Error(), bd.Digest) {
		t.Fatalf("got %v, want a corrupt bundle naming c.x and %s", err, bd.Digest)
	}
	if alloc > 16<<20 {
		t.Errorf("push allocated %d MiB refusing a 32 MiB manifest", alloc>>20)
	}
}

// TestPushManifestTotal: a bundle whose manifests pass manifest.MaxTotalBytes in all (each
// under MaxBytes) is refused before one is read: a corrupt bundle.
func TestPushManifestTotal(t *testing.T) {
	images, blobs := testbundle.Heavy()
	b := openTestBundle(t, images, blobs)
	dest := testregistry.StartT(t)
	var err error
	alloc := allocated(func() {
		_, err = Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}})
	})
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrGraph) {
		t.Fatalf("got %v, want a corrupt bundle, its manifests too large in all", err)
	}
	if alloc > 16<<20 {
		t.Errorf("push allocated %d MiB refusing it", alloc>>20)
	}
}
