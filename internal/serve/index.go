package serve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Registry serves bundles as a read-only registry: an http.Handler. Safe for concurrent use.
type Registry struct {
	o      options
	repos  map[string]*repo
	names  []string     // repository names, sorted (the catalog)
	graph  *graph.Graph // the bundles' images, and which bundle carries each blob
	images int

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
}

// stored is a manifest's exact bytes and media type.
type stored struct {
	raw       []byte
	mediaType string
}

// New indexes bundles (opened by the caller, who closes them after the Registry's last
// request) as one registry: every image at its path (after the prefix, WithPathPrefix) and
// tag, every manifest of its tree and every referrer of them by digest, cosign's tags as
// tags. Manifests are read and verified now, once per digest, through internal/graph (within
// its bounds: past them the bundle is corrupt), and kept in memory; blobs are read when
// asked for, from the first bundle that carries them. Bundles are taken in order: a tag that
// a later bundle maps to another digest is that bundle's (as pushing the later bundle would
// make it), and logged. Every external blob of a delta must be carried by one of the
// bundles, else New fails naming them.
func New(ctx context.Context, bundles []*archive.Bundle, opts ...Option) (*Registry, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	g := graph.New(bundles...)
	var missing []string
	for _, u := range g.Uncarried() {
		base := u.Bundle.Manifest().Base
		missing = append(missing, fmt.Sprintf("%s (%s of delta bundle made against %s %s)", u.Digest, u.Kind, base.Kind, base.Name))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %d blobs the bundles rely on are in none of them (serve each delta with its base):\n  %s",
			archive.ErrNotFound, len(missing), strings.Join(missing, "\n  "))
	}
	if err := g.Load(ctx); err != nil {
		return nil, err
	}
	r := &Registry{o: o, repos: map[string]*repo{}, graph: g, checks: map[string]*check{}, failures: newFailures(o.now),
		images: len(g.Images())}
	for _, gr := range g.Repositories(o.prefix) {
		r.repos[gr.Name] = r.index(gr)
		r.names = append(r.names, gr.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// index makes what one repository serves: its images' tags (a later image's tag wins, and
// the change is logged), their manifests and blobs, their referrers' (cosign's tags as tags,
// OCI 1.1 ones by subject).
func (r *Registry) index(gr *graph.Repository) *repo {
	rp := &repo{tags: map[string]string{}, manifests: map[string]*stored{}, blobs: map[string]bool{},
		referrers: map[string][]manifest.Descriptor{}}
	listed := map[string]bool{} // "subject referrer" pairs in referrers
	for _, im := range gr.Images {
		if im.Tag != "" {
			if old, ok := rp.tags[im.Tag]; ok && old != im.Digest {
				r.o.log.Printf("%s:%s is %s in %s, was %s in a bundle given before it", gr.Name, im.Tag, im.Digest, bundleName(im.Bundle), old)
			}
			rp.tags[im.Tag] = im.Digest
		}
		for _, ref := range im.Referrers {
			if ref.Tag != "" {
				rp.tags[ref.Tag] = ref.Digest
			}
			if s := manifest.SubjectOf(ref.Node.Raw); s != "" && !listed[s+" "+ref.Digest] {
				listed[s+" "+ref.Digest] = true
				rp.referrers[s] = append(rp.referrers[s], manifest.ReferrerDescriptor(ref.Node.Raw, ref.MediaType))
			}
		}
	}
	for _, n := range gr.Manifests {
		rp.manifests[n.Desc.Digest] = &stored{raw: n.Raw, mediaType: n.Desc.MediaType}
	}
	for _, d := range gr.Blobs {
		rp.blobs[d.Digest] = true
	}
	return rp
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
	if s := trust.SetOf(b); s != nil {
		return s.Name
	}
	return "a bundle created " + b.Manifest().Created.Format("2006-01-02T15:04:05Z")
}
