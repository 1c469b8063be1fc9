package testbundle

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// store serves blobs to manifest.Parse, counting fetches.
type store struct {
	blobs   map[string][]byte
	fetches int
}

func newStore(blobs []Blob) *store {
	s := &store{blobs: map[string][]byte{}}
	for _, b := range blobs {
		s.blobs[b.Digest()] = b.Data
	}
	return s
}

func (s *store) fetch(_ context.Context, d manifest.Descriptor) ([]byte, error) {
	s.fetches++
	b, ok := s.blobs[d.Digest]
	if !ok {
		return nil, fmt.Errorf("no %s", d.Digest)
	}
	return b, verify.Bytes(b, d.Digest, d.Size)
}

// TestFanOut: the root indexes the index below it n times, levels deep, over one manifest
// of a config and a layer; as a graph that is levels+1 manifests, each fetched once.
func TestFanOut(t *testing.T) {
	for _, c := range []struct{ n, levels int }{{1, 0}, {3, 1}, {40, 3}} {
		blobs := FanOut(c.n, c.levels)
		if len(blobs) != c.levels+3 {
			t.Fatalf("FanOut(%d, %d): %d blobs", c.n, c.levels, len(blobs))
		}
		s := newStore(blobs)
		root := blobs[0].Descriptor()
		node, err := manifest.Parse(context.Background(), root, blobs[0].Data, s.fetch)
		if err != nil {
			t.Fatalf("FanOut(%d, %d): %v", c.n, c.levels, err)
		}
		visits := 0
		node.Walk(func(*manifest.Node) { visits++ })
		if visits != c.levels+1 || s.fetches != c.levels {
			t.Errorf("FanOut(%d, %d): %d visits, %d fetches", c.n, c.levels, visits, s.fetches)
		}
		if c.levels > 0 && len(node.Children) != c.n {
			t.Errorf("FanOut(%d, %d): the root lists %d", c.n, c.levels, len(node.Children))
		}
		if node.Size() != int64(len(blobs[len(blobs)-2].Data)+len(blobs[len(blobs)-1].Data)) {
			t.Errorf("FanOut(%d, %d): size %d", c.n, c.levels, node.Size())
		}
		for i, b := range blobs {
			want := archive.KindIndex
			switch {
			case i == c.levels:
				want = archive.KindManifest
			case i == c.levels+1:
				want = archive.KindConfig
			case i == c.levels+2:
				want = archive.KindLayer
			}
			if b.Kind != want {
				t.Errorf("FanOut(%d, %d): blob %d is a %s, want %s", c.n, c.levels, i, b.Kind, want)
			}
		}
	}
}

// TestWrite: the bundle opens with the real reader and verifies; its manifest's images,
// blobs and totals are what was given, and its layout index names each image.
func TestWrite(t *testing.T) {
	blobs := FanOut(2, 1)
	images := []Image{
		{Component: "a", Container: "one", Server: "ghcr.io", Path: "x/a", Tag: "1", Root: blobs[0]},
		{Component: "b", Container: "two", Server: "docker.io", Path: "library/b", Tag: "2", Root: blobs[1]},
	}
	path, err := Write(t.TempDir(), "tb", images, blobs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if res, err := b.Verify(context.Background(), nil); err != nil || len(res.Bad) != 0 {
		t.Fatalf("verify: %v", err)
	}
	m := b.Manifest()
	if len(m.Images) != 2 || m.Images[1].Digest != blobs[1].Digest() || m.Images[1].Ref() != "docker.io/library/b:2" || m.Images[0].MediaType != manifest.OCIIndex {
		t.Errorf("images %+v", m.Images)
	}
	var total int64
	for i, bl := range m.Blobs {
		if bl.Digest != blobs[i].Digest() || bl.Kind != blobs[i].Kind {
			t.Errorf("blob %d: %+v", i, bl)
		}
		total += bl.Size
	}
	if m.Totals.Images != 2 || m.Totals.Blobs != len(blobs) || m.Totals.BlobBytes != total {
		t.Errorf("totals %+v", m.Totals)
	}
	raw, err := b.ReadFile(archive.IndexName)
	if err != nil {
		t.Fatal(err)
	}
	var idx manifest.Doc
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 2 || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "ghcr.io/x/a:1" || idx.Manifests[1].Digest != blobs[1].Digest() {
		t.Errorf("index %s", raw)
	}
}

// TestHeavy: every manifest is under manifest.MaxBytes and distinct, and together they pass
// manifest.MaxTotalBytes, which is what the tests that use Heavy rely on.
func TestHeavy(t *testing.T) {
	images, blobs := Heavy()
	var total int64
	seen := map[string]bool{}
	for _, im := range images {
		n := int64(len(im.Root.Data))
		if n > manifest.MaxBytes || manifest.CheckSize("", n) != nil {
			t.Fatalf("%s: %d bytes", im.Path, n)
		}
		if seen[im.Root.Digest()] {
			t.Fatalf("%s repeats a manifest", im.Path)
		}
		seen[im.Root.Digest()] = true
		total += n
	}
	if manifest.CheckTotal("heavy", total) == nil {
		t.Errorf("%d bytes of manifests do not pass MaxTotalBytes", total)
	}
	if len(blobs) != len(images)+2 {
		t.Errorf("%d blobs for %d images", len(blobs), len(images))
	}
}

func TestJSONPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("JSON of a channel did not panic")
		}
	}()
	JSON(make(chan int))
}
