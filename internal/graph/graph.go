package graph

import (
	"context"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Graph is the image graph of bundles: their images in order, and where each blob is.
type Graph struct {
	bundles []*archive.Bundle
	images  []*Image
	carrier map[string]*archive.Bundle // blob digest -> the first bundle given that carries it
	loaded  bool
}

// Image is one image entry (a container, a chart, a chart's image block) of a bundle, and,
// once the graph is loaded, what the bundle carries for it. Entries of one digest in one
// bundle share Root and Referrers.
type Image struct {
	archive.Image
	// Bundle is the bundle that lists the entry.
	Bundle *archive.Bundle
	// Root is the image's manifest or index with everything below it (manifest.Parse); nil
	// until Load.
	Root *manifest.Node
	// Referrers are what refers to the image's manifests and indexes, and to those referrers
	// in turn, in the bundle's order (a subject before what refers to it); nil until Load,
	// and for an image without referrers.
	Referrers []Referrer
}

// New indexes bundles (opened by the caller) from their manifests alone: the images they
// list, in the order given, and the first bundle that carries each blob. Nothing is read
// from the bundles' blobs: Root and Referrers stay nil until Load.
func New(bundles ...*archive.Bundle) *Graph {
	g := &Graph{bundles: bundles, carrier: map[string]*archive.Bundle{}}
	for _, b := range bundles {
		m := b.Manifest()
		for _, bl := range m.Blobs {
			if _, ok := g.carrier[bl.Digest]; !ok {
				g.carrier[bl.Digest] = b
			}
		}
		for _, im := range m.Images {
			g.images = append(g.images, &Image{Image: im, Bundle: b})
		}
	}
	return g
}

// Read is New, then Load: the whole graph of bundles, or the first error.
func Read(ctx context.Context, bundles ...*archive.Bundle) (*Graph, error) {
	g := New(bundles...)
	if err := g.Load(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Load reads every image's manifest graph and its referrers' (see the package's doc for the
// bounds), each digest once, and sets every Image's Root and Referrers. An image that
// cannot be read fails the whole load, the error naming it ("c.x (server/path:tag): ...").
// A graph loaded already is not read again.
func (g *Graph) Load(ctx context.Context) error {
	if g.loaded {
		return nil
	}
	if err := g.checkTotal(); err != nil {
		return err
	}
	r := &reader{g: g, raw: map[string][]byte{}, nodes: map[string]*manifest.Node{}}
	type key struct {
		b      *archive.Bundle
		digest string
	}
	done := map[key]*Image{}
	indexes := map[*archive.Bundle]*referrerIndex{}
	for _, im := range g.images {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := key{im.Bundle, im.Digest}
		if first, ok := done[k]; ok && first.MediaType == im.MediaType && first.Size == im.Size {
			im.Root, im.Referrers = first.Root, first.Referrers
			continue
		}
		x := indexes[im.Bundle]
		if x == nil {
			x = newReferrerIndex(im.Bundle.Manifest().Referrers)
			indexes[im.Bundle] = x
		}
		if err := r.image(ctx, im, x); err != nil {
			return fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
		}
		done[k] = im
	}
	g.loaded = true
	return nil
}

// Bundles are the bundles of the graph, in the order given.
func (g *Graph) Bundles() []*archive.Bundle { return g.bundles }

// Images are the image entries of every bundle, bundle by bundle, in each bundle's order.
func (g *Graph) Images() []*Image { return g.images }

// Blobs are the blobs the bundles carry (manifests, configs, layers), each digest once, the
// record of the first bundle that carries it, in the bundles' order (for one bundle, its
// manifest's Blobs).
func (g *Graph) Blobs() []archive.Blob {
	var out []archive.Blob
	for _, b := range g.bundles {
		for _, bl := range b.Manifest().Blobs {
			if g.carrier[bl.Digest] == b {
				out = append(out, bl)
			}
		}
	}
	return out
}

// Carrier is the first bundle given that carries the blob (a manifest, a config, a layer),
// or nil: a delta's external blob is carried by its base, when that is one of the bundles.
func (g *Graph) Carrier(digest string) *archive.Bundle { return g.carrier[digest] }

// Blob returns the record of a blob: the one of the first bundle that carries it (external
// false), else the one of the first delta bundle that relies on its base for it (external
// true). found is false when no bundle names it.
func (g *Graph) Blob(digest string) (rec archive.Blob, external, found bool) {
	if b := g.carrier[digest]; b != nil {
		rec, _ = b.Manifest().BlobByDigest(digest)
		return rec, false, true
	}
	for _, b := range g.bundles {
		if rec, ok := b.Manifest().ExternalBlob(digest); ok {
			return rec, true, true
		}
	}
	return archive.Blob{}, false, false
}

// Uncarried is an external blob of a delta bundle that none of the graph's bundles carries.
type Uncarried struct {
	archive.Blob
	// Bundle is the delta bundle that relies on its base (Manifest().Base) for it.
	Bundle *archive.Bundle
}

// Uncarried lists the external blobs of the delta bundles that no bundle of the graph
// carries, in the bundles' order: serving them needs their base among the bundles.
func (g *Graph) Uncarried() []Uncarried {
	var out []Uncarried
	for _, b := range g.bundles {
		for _, bl := range b.Manifest().External {
			if g.carrier[bl.Digest] == nil {
				out = append(out, Uncarried{Blob: bl, Bundle: b})
			}
		}
	}
	return out
}
