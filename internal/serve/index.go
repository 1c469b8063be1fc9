package serve

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Registry serves bundles as a read-only registry: an http.Handler. Safe for concurrent use.
type Registry struct {
	o       options
	repos   map[string]*repo
	names   []string                   // repository names, sorted (the catalog)
	carrier map[string]*archive.Bundle // blob digest -> the first bundle given that carries it
	images  int

	mu     sync.Mutex
	checks map[string]*check // blob digest -> its whole-blob verification (verified.go)

	requests, bytesSent atomic.Int64
	verified            atomic.Int64 // whole-blob verifications run
	// passed remembers the sha256 of credentials bcrypt accepted, so that a client's requests
	// do not each cost a bcrypt comparison (some 50 ms at htpasswd's default cost).
	passed sync.Map
}

// repo is what one repository serves.
type repo struct {
	tags      map[string]string                // tag -> manifest digest
	manifests map[string]*stored               // digest -> manifest, verified, in memory
	blobs     map[string]bool                  // config and layer digests of its manifests
	referrers map[string][]manifest.Descriptor // subject digest -> its OCI 1.1 referrers
}

// stored is a manifest's exact bytes and media type.
type stored struct {
	raw       []byte
	mediaType string
}

// New indexes bundles (opened by the caller, who closes them after the Registry's last
// request) as one registry: every image at its path (after the prefix, WithPathPrefix) and
// tag, every manifest of its tree and every referrer of them by digest, cosign's tags as
// tags. Manifests are read and verified now and kept in memory; blobs are read when asked
// for. Bundles are taken in order: a tag that a later bundle maps to another digest is that
// bundle's (as pushing the later bundle would make it), and logged. Every external blob of a
// delta must be carried by one of the bundles, else New fails naming them.
func New(ctx context.Context, bundles []*archive.Bundle, opts ...Option) (*Registry, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	r := &Registry{o: o, repos: map[string]*repo{}, carrier: map[string]*archive.Bundle{}, checks: map[string]*check{}}
	for _, b := range bundles {
		for _, bl := range b.Manifest().Blobs {
			if _, ok := r.carrier[bl.Digest]; !ok {
				r.carrier[bl.Digest] = b
			}
		}
	}
	var missing []string
	for _, b := range bundles {
		m := b.Manifest()
		for _, bl := range m.External {
			if r.carrier[bl.Digest] == nil {
				missing = append(missing, fmt.Sprintf("%s (%s of delta bundle made against %s %s)", bl.Digest, bl.Kind, m.Base.Kind, m.Base.Name))
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %d blobs the bundles rely on are in none of them (serve each delta with its base):\n  %s",
			archive.ErrNotFound, len(missing), strings.Join(missing, "\n  "))
	}
	for _, b := range bundles {
		if err := r.add(ctx, b); err != nil {
			return nil, err
		}
	}
	for n := range r.repos {
		r.names = append(r.names, n)
	}
	sort.Strings(r.names)
	return r, nil
}

// add indexes one bundle's images and referrers.
func (r *Registry) add(ctx context.Context, b *archive.Bundle) error {
	m := b.Manifest()
	trees := map[string]*manifest.Node{}
	for _, im := range m.Images {
		name := im.Path
		if r.o.prefix != "" {
			name = r.o.prefix + "/" + im.Path
		}
		rp := r.repo(name)
		root, ok := trees[im.Digest]
		if !ok {
			var err error
			d := manifest.Descriptor{MediaType: im.MediaType, Digest: im.Digest, Size: im.Size}
			if root, err = r.load(ctx, d); err != nil {
				return fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
			}
			trees[im.Digest] = root
		}
		r.images++
		if im.Tag != "" {
			if old, ok := rp.tags[im.Tag]; ok && old != im.Digest {
				r.o.log.Printf("%s:%s is %s in %s, was %s in a bundle given before it", name, im.Tag, im.Digest, bundleName(b), old)
			}
			rp.tags[im.Tag] = im.Digest
		}
		rp.addTree(root)
		if err := r.addReferrers(ctx, rp, root, m.Referrers); err != nil {
			return fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
		}
	}
	return nil
}

// addReferrers adds the referrers of the image whose tree is root (and theirs) to rp.
func (r *Registry) addReferrers(ctx context.Context, rp *repo, root *manifest.Node, all []archive.Referrer) error {
	subjects := map[string]bool{}
	root.Walk(func(n *manifest.Node) { subjects[n.Desc.Digest] = true })
	for _, ref := range all {
		if !subjects[ref.Subject] {
			continue
		}
		subjects[ref.Digest] = true
		n, err := r.load(ctx, manifest.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size})
		if err != nil {
			return fmt.Errorf("referrer %s: %w", ref.Digest, err)
		}
		rp.addTree(n)
		if ref.Tag != "" {
			rp.tags[ref.Tag] = ref.Digest
		}
		if s := manifest.SubjectOf(n.Raw); s != "" && !slices.ContainsFunc(rp.referrers[s], func(d manifest.Descriptor) bool { return d.Digest == ref.Digest }) {
			rp.referrers[s] = append(rp.referrers[s], manifest.ReferrerDescriptor(n.Raw, ref.MediaType))
		}
	}
	return nil
}

func (r *Registry) repo(name string) *repo {
	rp, ok := r.repos[name]
	if !ok {
		rp = &repo{tags: map[string]string{}, manifests: map[string]*stored{}, blobs: map[string]bool{},
			referrers: map[string][]manifest.Descriptor{}}
		r.repos[name] = rp
	}
	return rp
}

// addTree adds a manifest tree's manifests and blobs.
func (rp *repo) addTree(root *manifest.Node) {
	root.Walk(func(n *manifest.Node) {
		rp.manifests[n.Desc.Digest] = &stored{raw: n.Raw, mediaType: n.Desc.MediaType}
		for _, d := range n.Blobs {
			rp.blobs[d.Digest] = true
		}
	})
}

// load reads and parses the manifest d names, and its children, from the bundle carrying it.
func (r *Registry) load(ctx context.Context, d manifest.Descriptor) (*manifest.Node, error) {
	raw, err := r.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return manifest.Parse(ctx, d, raw, r.fetch)
}

// fetch reads a manifest from the bundle that carries it, verified against d.
func (r *Registry) fetch(_ context.Context, d manifest.Descriptor) ([]byte, error) {
	b := r.carrier[d.Digest]
	if b == nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, archive.ErrNotFound)
	}
	rec, _ := b.Manifest().BlobByDigest(d.Digest)
	if rec.Size != d.Size || rec.MediaType != d.MediaType {
		return nil, fmt.Errorf("%w: manifest %s: the bundle has %d bytes of %s, its parent says %d bytes of %s",
			archive.ErrCorrupt, d.Digest, rec.Size, rec.MediaType, d.Size, d.MediaType)
	}
	rc, err := b.OpenBlob(d.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Summary says what is served, for the log: repositories, images, bundles.
func (r *Registry) Summary() string {
	tags := 0
	for _, rp := range r.repos {
		tags += len(rp.tags)
	}
	return fmt.Sprintf("%d repositories, %d tags, %d images", len(r.repos), tags, r.images)
}

// Served returns how many requests were answered and how many body bytes were sent.
func (r *Registry) Served() (requests, bytes int64) { return r.requests.Load(), r.bytesSent.Load() }

// bundleName names a bundle in the log.
func bundleName(b *archive.Bundle) string {
	if s := b.Set(); s != nil {
		return s.Name
	}
	return "a bundle created " + b.Manifest().Created.Format("2006-01-02T15:04:05Z")
}
