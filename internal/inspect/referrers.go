package inspect

import (
	"context"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
)

// Referrers maps the digest of every image of the bundle that has referrers (signatures,
// attestations, SBOMs, and what refers to those in turn) to them, in the bundle's order, read
// from its manifests; none are read, and the map is nil, when it carries no referrers.
func Referrers(ctx context.Context, b *archive.Bundle) (map[string][]graph.Referrer, error) {
	if len(b.Manifest().Referrers) == 0 {
		return nil, nil
	}
	g, err := graph.Read(ctx, b)
	if err != nil {
		return nil, err
	}
	out := map[string][]graph.Referrer{}
	for _, im := range g.Images() {
		if len(im.Referrers) > 0 {
			out[im.Digest] = im.Referrers
		}
	}
	return out, nil
}
