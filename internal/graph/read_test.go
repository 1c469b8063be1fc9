package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// allocated runs fn and returns the bytes allocated meanwhile (by every goroutine: the tests
// of this package do not run in parallel).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// countingReader counts the bytes read at each offset of a bundle held in memory.
type countingReader struct {
	data []byte
	mu   sync.Mutex
	read []int // per byte of data, how many times it was read
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(c.data)) {
		return 0, io.EOF
	}
	n := copy(p, c.data[off:])
	c.mu.Lock()
	for i := range n {
		c.read[int(off)+i]++
	}
	c.mu.Unlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// most is the most times a byte of [off, off+n) was read.
func (c *countingReader) most(off, n int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := 0
	for _, k := range c.read[off : off+n] {
		m = max(m, k)
	}
	return m
}

// TestReadOnce: a manifest listed by the indexes of two images, and an index that two
// entries name, are each read from the bundle once for the whole graph.
func TestReadOnce(t *testing.T) {
	w := newWorld()
	other := index(on(w.amd, "linux", "amd64")) // a second image whose index lists amd64 too
	images := append(w.images, testbundle.Image{Component: "c", Container: "o", Server: "example.org", Path: "o", Tag: "1", Root: other})
	path, err := testbundle.WriteWith(t.TempDir(), "b", images, dedupe(append([]testbundle.Blob{other}, w.blobs...)), testbundle.Extra{Referrers: w.referrers})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{data: data, read: make([]int, len(data))}
	b, err := archive.NewReader(cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := Read(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	for _, m := range append(w.metas(), other) {
		off, n, ok := b.EntryRange(archive.BlobName(m.Digest()))
		if !ok {
			t.Fatalf("%s is not in the bundle", m.Digest())
		}
		if k := cr.most(off, n); k != 1 {
			t.Errorf("manifest %s read %d times, want once", m.Digest(), k)
		}
	}
}

// bomb is a manifest of many MiB of whitespace that compresses to nothing, and what it names.
func bomb() (testbundle.Blob, []testbundle.Blob) {
	fan := testbundle.FanOut(1, 0)
	config, l := fan[1], fan[2]
	cd, ld := config.Descriptor(), l.Descriptor()
	raw := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	return testbundle.Blob{Data: append(raw, bytes.Repeat([]byte(" "), 32<<20)...), MediaType: manifest.OCIManifest, Kind: archive.KindManifest},
		[]testbundle.Blob{config, l}
}

// TestHostileGraphs: an index listing one child many times over is read once per digest,
// within 10 s and far less memory than its tree; a manifest of many MiB is refused from the
// bundle's record of its size, before it is read, as the image's manifest or as a child of
// its index: a corrupt bundle naming the image and the manifest.
func TestHostileGraphs(t *testing.T) {
	fan := testbundle.FanOut(60, 4) // 60^4 = 13 million manifests as a tree
	fanImage := testbundle.Image{Component: "c", Container: "x", Server: "example.org", Path: "fan", Tag: "1", Root: fan[0]}
	b := openBundle(t, []testbundle.Image{fanImage}, fan, testbundle.Extra{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var g *Graph
	var err error
	if alloc := allocated(func() { g, err = Read(ctx, b) }); err != nil || alloc > 64<<20 {
		t.Fatalf("fan-out: %v, %d MiB allocated", err, alloc>>20)
	}
	if n := len(g.Images()[0].Manifests()); n != 5 {
		t.Errorf("fan-out: %d distinct manifests, want 5", n)
	}

	big, named := bomb()
	bd := big.Descriptor()
	parent := doc(manifest.Doc{MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{bd}})
	for _, tc := range []struct {
		name  string
		root  testbundle.Blob
		blobs []testbundle.Blob
	}{
		{"the image's manifest", big, append([]testbundle.Blob{big}, named...)},
		{"a child of its index", parent, append([]testbundle.Blob{parent, big}, named...)},
	} {
		t.Run("bomb as "+tc.name, func(t *testing.T) {
			b := openBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "bomb", Tag: "1", Root: tc.root}}, tc.blobs, testbundle.Extra{})
			var err error
			alloc := allocated(func() { _, err = Read(t.Context(), b) })
			if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrTooLarge) ||
				!strings.Contains(err.Error(), "c.x (example.org/bomb:1)") || !strings.Contains(err.Error(), bd.Digest) {
				t.Fatalf("got %v, want a corrupt bundle naming c.x and %s", err, bd.Digest)
			}
			if alloc > 16<<20 {
				t.Errorf("%d MiB allocated refusing a 32 MiB manifest", alloc>>20)
			}
		})
	}
}

// TestManifestTotal: manifests that pass manifest.MaxTotalBytes together (each under
// MaxBytes) are refused before one is read, in one bundle or across several; the same
// manifests carried by two bundles count once, as they are read once.
func TestManifestTotal(t *testing.T) {
	images, blobs := testbundle.Heavy()
	half := len(images)/2 + 1 // twice over the limit, once under it
	dir := t.TempDir()
	write := func(name string, ims []testbundle.Image, metas []testbundle.Blob) *archive.Bundle {
		path, err := testbundle.Write(dir, name, ims, slices.Concat(metas, blobs[len(blobs)-2:]))
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
	first, second := write("first", images[:half], blobs[:half]), write("second", images[half:], blobs[half:len(images)])
	var err error
	alloc := allocated(func() { _, err = Read(t.Context(), first, second) })
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrGraph) || !strings.Contains(err.Error(), ": the bundles: ") {
		t.Fatalf("got %v, want corrupt bundles, their manifests too large in all", err)
	}
	if alloc > 16<<20 {
		t.Errorf("%d MiB allocated refusing them", alloc>>20)
	}
	// Over the limit if counted per bundle, under it counted once per digest. (Only the check:
	// reading 36 MiB of whitespace manifests takes long under -race.)
	if err := New(first, first).checkTotal(); err != nil {
		t.Errorf("one bundle given twice: %v", err)
	}
	if err := New(first, second).checkTotal(); !strings.HasPrefix(strings.TrimPrefix(err.Error(), archive.ErrCorrupt.Error()+": "), "the bundles:") {
		t.Errorf("two bundles: %v", err)
	}
	if err := New(second).checkTotal(); err != nil {
		t.Errorf("one half: %v", err)
	}
}

// TestCorruptManifests: a manifest the bundle cannot carry as it is fails the load as a
// corrupt bundle (exit 3), the error naming the image, the manifest, and what is wrong.
func TestCorruptManifests(t *testing.T) {
	w := newWorld()
	c, l := config("amd64"), layer("x")
	asManifest := w.index // the index's bytes, recorded as a manifest
	asManifest.MediaType, asManifest.Kind = manifest.OCIManifest, archive.KindManifest
	wrongSize := on(w.amd, "linux", "amd64")
	wrongSize.Size++
	notJSON := testbundle.Blob{Data: []byte("not a manifest"), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	layerChild := l.Descriptor()
	deep := testbundle.FanOut(1, 6) // indexes of indexes, 6 deep
	badRef := testbundle.Blob{Data: []byte(`{"schemaVersion":2,"mediaType":"` + manifest.OCIManifest + `"}`), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	for _, tc := range []struct {
		name  string
		root  testbundle.Blob
		blobs []testbundle.Blob
		refs  []archive.Referrer
		is    []error
		says  string
	}{
		{"the image's media type is not the blob's", w.index, []testbundle.Blob{asManifest}, nil,
			[]error{archive.ErrCorrupt}, "the bundle has " + fmtSize(w.index) + " bytes of " + manifest.OCIManifest},
		{"a child listed with another size", index(wrongSize), []testbundle.Blob{index(wrongSize), w.amd, c, l}, nil,
			[]error{archive.ErrCorrupt}, "manifest " + w.amd.Digest()},
		{"not JSON", notJSON, []testbundle.Blob{notJSON}, nil,
			[]error{archive.ErrCorrupt, manifest.ErrBad}, "not a manifest"},
		{"a layer listed as a child", index(layerChild), []testbundle.Blob{index(layerChild), l}, nil,
			[]error{archive.ErrCorrupt, manifest.ErrBad}, "not a manifest"},
		{"indexes nested too deep", deep[0], deep, nil,
			[]error{archive.ErrCorrupt, manifest.ErrBad}, "nested too deep"},
		{"a referrer without a config", w.amd, []testbundle.Blob{w.amd, w.amdConfig, w.shared, w.amdOnly, badRef},
			[]archive.Referrer{ref(w.amd, badRef, "")}, []error{archive.ErrCorrupt, manifest.ErrBad}, "referrer " + badRef.Digest()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := testbundle.Image{Component: "c", Container: "x", Server: "example.org", Path: "x", Tag: "1", Root: tc.root}
			b := openBundle(t, []testbundle.Image{im}, dedupe(tc.blobs), testbundle.Extra{Referrers: tc.refs})
			_, err := Read(t.Context(), b)
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want %v", err, want)
				}
			}
			if err == nil || !strings.HasPrefix(err.Error(), "c.x (example.org/x:1): ") || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v, want it to name c.x and say %q", err, tc.says)
			}
		})
	}
}

func fmtSize(b testbundle.Blob) string { return strconv.Itoa(len(b.Data)) }
