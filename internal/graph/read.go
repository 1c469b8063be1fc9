package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// reader is the state of one Load: every manifest read (its bytes, once per digest for the
// whole graph, however many images list it) and every graph parsed from a top-level digest
// (an image's root, a referrer). Its fetch is called from manifest.Parse's goroutines.
type reader struct {
	g *Graph

	mu  sync.Mutex
	raw map[string][]byte // manifest digest -> its bytes, verified

	nodes map[string]*manifest.Node // top-level digest -> its graph
}

// checkTotal refuses, before any is read, bundles whose distinct manifests and indexes pass
// manifest.MaxTotalBytes together (they are held in memory): corrupt bundles.
func (g *Graph) checkTotal() error {
	var total int64
	for digest, b := range g.carrier {
		rec, _ := b.Manifest().BlobByDigest(digest)
		if isManifest(rec) {
			total += rec.Size
		}
	}
	what := "the bundle"
	if len(g.bundles) > 1 {
		what = "the bundles"
	}
	if err := manifest.CheckTotal(what, total); err != nil {
		return fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
	}
	return nil
}

// isManifest reports whether a blob record is of a manifest or an index, by its kind or its
// media type.
func isManifest(rec archive.Blob) bool {
	return rec.Kind == archive.KindIndex || rec.Kind == archive.KindManifest || manifest.IsIndex(rec.MediaType) || manifest.IsManifest(rec.MediaType)
}

// image reads im's graph and its referrers'.
func (r *reader) image(ctx context.Context, im *Image, x *referrerIndex) error {
	root, err := r.load(ctx, manifest.Descriptor{MediaType: im.MediaType, Digest: im.Digest, Size: im.Size})
	if err != nil {
		return err
	}
	im.Root = root
	for _, ref := range x.of(root) {
		d := manifest.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size}
		if ref.Node, err = r.load(ctx, d); err != nil {
			return fmt.Errorf("referrer %s: %w", ref.Digest, err)
		}
		im.Referrers = append(im.Referrers, ref)
	}
	return nil
}

// load reads and parses the manifest or index d names, with everything below it, once per
// top-level digest (manifest.Parse bounds the graph: each digest once, MaxNodes,
// MaxGraphBytes). A manifest that cannot be carried is a corrupt bundle.
func (r *reader) load(ctx context.Context, d manifest.Descriptor) (*manifest.Node, error) {
	if n, ok := r.nodes[d.Digest]; ok && n.Desc.MediaType == d.MediaType && n.Desc.Size == d.Size {
		return n, nil
	}
	raw, err := r.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	n, err := manifest.Parse(ctx, d, raw, r.fetch)
	if err != nil {
		return nil, corruptIf(err)
	}
	r.nodes[d.Digest] = n
	return n, nil
}

// fetch returns the bytes of the manifest d names from the first bundle that carries it,
// verified, checking size and media type against d (as its parent lists it); one over
// manifest.MaxBytes is refused from the bundle's record before a byte of it is read (a
// manifest-type blob of many MiB that compresses well is never decompressed).
func (r *reader) fetch(_ context.Context, d manifest.Descriptor) ([]byte, error) {
	b := r.g.carrier[d.Digest]
	if b == nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, archive.ErrNotFound)
	}
	rec, _ := b.Manifest().BlobByDigest(d.Digest)
	if rec.Size != d.Size || rec.MediaType != d.MediaType {
		return nil, fmt.Errorf("%w: manifest %s: the bundle has %d bytes of %s, its parent says %d bytes of %s",
			archive.ErrCorrupt, d.Digest, rec.Size, rec.MediaType, d.Size, d.MediaType)
	}
	if err := manifest.CheckSize("manifest "+d.Digest, rec.Size); err != nil {
		return nil, fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
	}
	r.mu.Lock()
	raw, ok := r.raw[d.Digest]
	r.mu.Unlock()
	if ok {
		return raw, nil
	}
	raw, err := b.ReadFile(archive.BlobName(d.Digest))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.raw[d.Digest] = raw
	r.mu.Unlock()
	return raw, nil
}

// corruptIf marks as a corrupt bundle (exit 3) a manifest read from one that cannot be
// carried: bundle create refuses those, so a bundle holding one was not made by it.
func corruptIf(err error) error {
	if errors.Is(err, manifest.ErrBad) && !errors.Is(err, archive.ErrCorrupt) {
		return fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
	}
	return err
}
