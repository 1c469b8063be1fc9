package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	loaded  map[string]*manifest.Node  // manifest digest -> its graph, while New indexes
	images  int

	mu     sync.Mutex
	checks map[string]*check // blob digest -> its whole-blob verification (verified.go)

	requests, bytesSent atomic.Int64
	verified            atomic.Int64 // whole-blob verifications run
	// passed remembers the sha256 of credentials bcrypt accepted, so that a client's requests
	// do not each cost a bcrypt comparison (some 50 ms at htpasswd's default cost).
	passed   sync.Map
	compares atomic.Int64 // bcrypt comparisons made
	failures *failures    // failed logins per client
}

// repo is what one repository serves.
type repo struct {
	tags      map[string]string                // tag -> manifest digest
	manifests map[string]*stored               // digest -> manifest, verified, in memory
	blobs     map[string]bool                  // config and layer digests of its manifests
	referrers map[string][]manifest.Descriptor // subject digest -> its OCI 1.1 referrers
	listed    map[string]bool                  // "subject referrer" pairs in referrers
	added     map[string]bool                  // image digests whose graph is in manifests and blobs
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
	r := &Registry{o: o, repos: map[string]*repo{}, carrier: map[string]*archive.Bundle{}, checks: map[string]*check{},
		loaded: map[string]*manifest.Node{}, failures: newFailures(o.now)}
	for _, b := range bundles {
		for _, bl := range b.Manifest().Blobs {
			if _, ok := r.carrier[bl.Digest]; !ok {
				r.carrier[bl.Digest] = b
			}
		}
	}
	var total int64 // of the manifests and indexes, held in memory
	for _, b := range bundles {
		for _, bl := range b.Manifest().Blobs {
			if bl.Kind == archive.KindIndex || bl.Kind == archive.KindManifest || manifest.IsIndex(bl.MediaType) || manifest.IsManifest(bl.MediaType) {
				total += bl.Size
			}
		}
	}
	if err := manifest.CheckTotal("the bundles", total); err != nil {
		return nil, fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
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
	r.loaded = nil
	return r, nil
}

// add indexes one bundle's images and referrers. Each image's graph is added to a repository
// once however many containers name it, and each referrer is found from its subject (an
// index of the bundle's referrers by subject): the work is linear in what the bundle lists.
func (r *Registry) add(ctx context.Context, b *archive.Bundle) error {
	m := b.Manifest()
	bySubject := map[string][]archive.Referrer{}
	for _, ref := range m.Referrers {
		bySubject[ref.Subject] = append(bySubject[ref.Subject], ref)
	}
	for _, im := range m.Images {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := im.Path
		if r.o.prefix != "" {
			name = r.o.prefix + "/" + im.Path
		}
		rp := r.repo(name)
		d := manifest.Descriptor{MediaType: im.MediaType, Digest: im.Digest, Size: im.Size}
		root, err := r.load(ctx, d)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
		}
		r.images++
		if im.Tag != "" {
			if old, ok := rp.tags[im.Tag]; ok && old != im.Digest {
				r.o.log.Printf("%s:%s is %s in %s, was %s in a bundle given before it", name, im.Tag, im.Digest, bundleName(b), old)
			}
			rp.tags[im.Tag] = im.Digest
		}
		if rp.added[im.Digest] {
			continue
		}
		rp.added[im.Digest] = true
		rp.addTree(root)
		if err := r.addReferrers(ctx, rp, root, bySubject); err != nil {
			return fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
		}
	}
	return nil
}

// addReferrers adds the referrers of the image whose graph is root (and theirs, breadth
// first) to rp.
func (r *Registry) addReferrers(ctx context.Context, rp *repo, root *manifest.Node, bySubject map[string][]archive.Referrer) error {
	var queue []string
	root.Walk(func(n *manifest.Node) { queue = append(queue, n.Desc.Digest) })
	queued := map[string]bool{}
	for _, d := range queue {
		queued[d] = true
	}
	for len(queue) > 0 {
		subject := queue[0]
		queue = queue[1:]
		for _, ref := range bySubject[subject] {
			n, err := r.load(ctx, manifest.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size})
			if err != nil {
				return fmt.Errorf("referrer %s: %w", ref.Digest, err)
			}
			if ref.Tag != "" {
				rp.tags[ref.Tag] = ref.Digest
			}
			if !queued[ref.Digest] {
				queued[ref.Digest] = true
				queue = append(queue, ref.Digest)
				rp.addTree(n)
			}
			if s := manifest.SubjectOf(n.Raw); s != "" && !rp.listed[s+" "+ref.Digest] {
				rp.listed[s+" "+ref.Digest] = true
				rp.referrers[s] = append(rp.referrers[s], manifest.ReferrerDescriptor(n.Raw, ref.MediaType))
			}
		}
	}
	return nil
}

func (r *Registry) repo(name string) *repo {
	rp, ok := r.repos[name]
	if !ok {
		rp = &repo{tags: map[string]string{}, manifests: map[string]*stored{}, blobs: map[string]bool{},
			referrers: map[string][]manifest.Descriptor{}, listed: map[string]bool{}, added: map[string]bool{}}
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

// load reads and parses the manifest d names, and its children, from the bundle carrying it,
// once per digest for the whole registry (an image's graph is bounded by manifest.Parse: once
// per digest, MaxNodes, MaxGraphBytes). A manifest that cannot be carried is a corrupt bundle.
func (r *Registry) load(ctx context.Context, d manifest.Descriptor) (*manifest.Node, error) {
	if n, ok := r.loaded[d.Digest]; ok && n.Desc.MediaType == d.MediaType && n.Desc.Size == d.Size {
		return n, nil
	}
	raw, err := r.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	n, err := manifest.Parse(ctx, d, raw, r.fetch)
	if errors.Is(err, manifest.ErrBad) && !errors.Is(err, archive.ErrCorrupt) {
		err = fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	r.loaded[d.Digest] = n
	return n, nil
}

// fetch reads a manifest from the bundle that carries it, verified against d; one over
// manifest.MaxBytes is refused before a byte of it is read.
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
	if err := manifest.CheckSize("manifest "+d.Digest, rec.Size); err != nil {
		return nil, fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
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
