package graph

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// TestNewReadsNoManifest: New lists the bundles' images in order, each with the bundle that
// lists it, and reads nothing: no Root, no Referrers, no blob users, until Load.
func TestNewReadsNoManifest(t *testing.T) {
	w := newWorld()
	b1, b2 := w.open(t, "c.a", "c.b"), w.open(t, "c.a2")
	g := New(b1, b2)
	var keys []string
	for _, im := range g.Images() {
		keys = append(keys, im.Key())
		if im.Root != nil || im.Referrers != nil {
			t.Errorf("%s: read before Load", im.Key())
		}
	}
	if !slices.Equal(keys, []string{"c.a", "c.b", "c.a2"}) {
		t.Errorf("images %v, want the bundles' in order", keys)
	}
	if im := g.Images(); im[0].Bundle != b1 || im[2].Bundle != b2 {
		t.Errorf("the images' bundles are not the ones that list them")
	}
	if !slices.Equal(g.Bundles(), []*archive.Bundle{b1, b2}) {
		t.Errorf("Bundles: %v", g.Bundles())
	}
	if n := len(g.BlobUsers()); n != 0 {
		t.Errorf("%d blob users before Load", n)
	}
	if rs := g.Repositories(""); len(rs) != 2 || len(rs[0].Blobs) != 0 || len(rs[0].Manifests) != 0 {
		t.Errorf("repositories before Load: %+v", rs)
	}
}

// TestLoad: every image gets its graph and its referrers; entries of one digest in one bundle
// share them; the same digest in another bundle is read from the bundle that carries it.
func TestLoad(t *testing.T) {
	w := newWorld()
	b := w.open(t)
	g, err := Read(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	ims := g.Images()
	a, bb, a2 := ims[0], ims[1], ims[2]
	if a.Root == nil || a.Root.Desc.Digest != w.index.Digest() || len(a.Root.Children) != 3 {
		t.Fatalf("c.a's graph: %+v", a.Root)
	}
	if a2.Root != a.Root || len(a2.Referrers) == 0 || &a2.Referrers[0] != &a.Referrers[0] {
		t.Errorf("c.a2 (the same digest in the same bundle) does not share c.a's graph and referrers")
	}
	if bb.Root.Desc.Digest != w.single.Digest() || len(bb.Root.Blobs) != 3 {
		t.Errorf("c.b's graph: %+v", bb.Root.Desc)
	}
	if got := a.Root.Platforms(); !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("c.a's platforms: %v", got)
	}
	if err := g.Load(t.Context()); err != nil || g.Images()[0].Root != a.Root {
		t.Errorf("a second Load read again or failed: %v", err)
	}
}

// TestLoadCancelled: a cancelled context stops the load with its error.
func TestLoadCancelled(t *testing.T) {
	b := newWorld().open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestWhereBlobsAre: Carrier and Blob find the first bundle that carries a blob, else the
// delta bundle that relies on its base for it; Uncarried lists a delta's external blobs
// that no bundle given carries; Blobs lists what the bundles carry, each digest once.
func TestWhereBlobsAre(t *testing.T) {
	w := newWorld()
	full := w.open(t, "c.b")
	// The delta carries c.b's manifest and config, and relies on its base for the layers.
	deltaBlobs := []testbundle.Blob{w.single, w.bConfig}
	external := []archive.Blob{{Digest: w.shared.Digest(), Size: int64(len(w.shared.Data)), Kind: archive.KindLayer},
		{Digest: w.bOnly.Digest(), Size: int64(len(w.bOnly.Data)), Kind: archive.KindLayer}}
	base := &archive.Base{Kind: "bundle", Name: "full.tar.zst", Digest: testbundle.Blob{Data: []byte("full")}.Digest(), Paths: []string{"b"}}
	delta := openBundle(t, []testbundle.Image{w.images[1]}, deltaBlobs, testbundle.Extra{Base: base, External: external})

	for _, tc := range []struct {
		name      string
		bundles   []*archive.Bundle
		digest    string
		carrier   *archive.Bundle
		external  bool
		found     bool
		uncarried []string
	}{
		{"a layer the full bundle carries", []*archive.Bundle{full, delta}, w.shared.Digest(), full, false, true, nil},
		{"a manifest both carry: the first given", []*archive.Bundle{delta, full}, w.single.Digest(), delta, false, true, nil},
		{"the delta alone: its external layer", []*archive.Bundle{delta}, w.bOnly.Digest(), nil, true, true, digests(w.shared, w.bOnly)},
		{"a blob no bundle names", []*archive.Bundle{full, delta}, layer("nowhere").Digest(), nil, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(tc.bundles...)
			if got := g.Carrier(tc.digest); got != tc.carrier {
				t.Errorf("Carrier: %p, want %p", got, tc.carrier)
			}
			rec, external, found := g.Blob(tc.digest)
			if external != tc.external || found != tc.found || (found && rec.Digest != tc.digest) {
				t.Errorf("Blob: %+v external %v found %v, want external %v found %v", rec, external, found, tc.external, tc.found)
			}
			var un []string
			for _, u := range g.Uncarried() {
				un = append(un, u.Digest)
				if u.Bundle != delta {
					t.Errorf("uncarried %s: not the delta's", u.Digest)
				}
			}
			if !slices.Equal(un, tc.uncarried) {
				t.Errorf("Uncarried: %v, want %v", un, tc.uncarried)
			}
		})
	}
	var got []string
	for _, bl := range New(delta, full).Blobs() {
		got = append(got, bl.Digest)
	}
	want := digests(w.single, w.bConfig) // the delta's, then what full adds, in its order
	for _, bl := range full.Manifest().Blobs {
		if !slices.Contains(want, bl.Digest) {
			want = append(want, bl.Digest)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Blobs: %v\nwant %v", got, want)
	}
}

// TestLoadReadsFromTheCarrier: two bundles with one image: its manifests are read from the
// first bundle that carries them; a delta's image is read through its base's manifests when
// the delta does not carry them.
func TestLoadReadsFromTheCarrier(t *testing.T) {
	w := newWorld()
	full := w.open(t, "c.a")
	// A bundle whose index's children are not carried: loaded alone it fails, with the base it reads.
	thin := openBundle(t, []testbundle.Image{w.images[0]}, []testbundle.Blob{w.index}, testbundle.Extra{})
	if _, err := Read(t.Context(), thin); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("an index whose children no bundle carries: %v, want ErrNotFound", err)
	}
	g, err := Read(t.Context(), thin, full)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.Images()[0].Root.Children); n != 3 {
		t.Errorf("the thin bundle's image has %d children, want 3", n)
	}
	if got := g.Images()[0].Root.Children[0].Blobs; len(got) != 3 || got[1].Digest != w.shared.Digest() {
		t.Errorf("amd64's blobs: %v", got)
	}
}
