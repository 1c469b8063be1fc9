package graph

import (
	"fmt"
	"slices"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Referrer is a referrer of an image: of one of its manifests or indexes, or of another of
// its referrers (a signature of an attestation).
type Referrer struct {
	archive.Referrer
	// Depth is 1 for a referrer of the image's own manifests, 2 for one of those, ...
	Depth int
	// Of says what its subject is: "index", "manifest", "attestation manifest", a platform
	// (linux/amd64), or a referrer's artifact type.
	Of string
	// Node is its manifest (or index) with everything below it.
	Node *manifest.Node
}

// String names the referrer for messages: its artifact type, digest, and its cosign tag or
// its subject.
func (r Referrer) String() string {
	if r.Tag != "" {
		return fmt.Sprintf("%s %s (tag %s)", r.ArtifactType, r.Digest, r.Tag)
	}
	return fmt.Sprintf("%s %s (of %s)", r.ArtifactType, r.Digest, r.Subject)
}

// referrerIndex is one bundle's referrers (subjects first, as bundle.json lists them) and
// their positions by subject digest.
type referrerIndex struct {
	all       []archive.Referrer
	bySubject map[string][]int
}

func newReferrerIndex(all []archive.Referrer) *referrerIndex {
	x := &referrerIndex{all: all, bySubject: make(map[string][]int, len(all))}
	for i, r := range all {
		x.bySubject[r.Subject] = append(x.bySubject[r.Subject], i)
	}
	return x
}

// subject is a digest referrers may name: its depth below the image and what it is.
type subject struct {
	depth int
	label string
}

// of picks the referrers of the image whose graph is root: in the bundle's order, each whose
// subject is one of the image's manifests or a referrer picked before it. Only the
// referrers reachable from the image by subject are looked at (found breadth first, then
// put in the bundle's order), so the work is what the image has, not what the bundle has.
func (x *referrerIndex) of(root *manifest.Node) []Referrer {
	if len(x.all) == 0 {
		return nil
	}
	subjects := map[string]subject{}
	var queue []string
	root.Walk(func(n *manifest.Node) {
		subjects[n.Desc.Digest] = subject{0, nodeLabel(n)}
		queue = append(queue, n.Desc.Digest)
	})
	// The candidates: every listing reachable from the image's digests by subject.
	var cands []int
	queued := map[string]bool{}
	for _, d := range queue {
		queued[d] = true
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, i := range x.bySubject[d] {
			cands = append(cands, i)
			if r := x.all[i].Digest; !queued[r] {
				queued[r] = true
				queue = append(queue, r)
			}
		}
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	// The bundle's order decides: a referrer counts when its subject was met before it.
	var out []Referrer
	for _, i := range cands {
		r := x.all[i]
		s, ok := subjects[r.Subject]
		if !ok {
			continue
		}
		out = append(out, Referrer{Referrer: r, Depth: s.depth + 1, Of: s.label})
		if _, ok := subjects[r.Digest]; !ok {
			subjects[r.Digest] = subject{s.depth + 1, r.ArtifactType}
		}
	}
	return out
}

// nodeLabel says what a manifest of an image is, for the referrers of it.
func nodeLabel(n *manifest.Node) string {
	switch {
	case manifest.IsIndex(n.Desc.MediaType):
		return "index"
	case manifest.AttestationOf(n.Desc) != "":
		return "attestation manifest"
	case n.Desc.Platform != nil:
		return n.Desc.Platform.String()
	}
	return "manifest"
}
