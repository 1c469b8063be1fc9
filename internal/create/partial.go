package create

import (
	"sort"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
)

// What a partial bundle (CreateOptions.AllowPartial) records of the containers it lacks.

// blockPathsOf maps the key of every image block of the charts to its values path.
func blockPathsOf(charts []*Chart) map[string]string {
	out := map[string]string{}
	for _, ch := range charts {
		for _, im := range ch.Images() {
			out[im.Key()] = im.Container
		}
	}
	return out
}

// missing records the containers a run could not pull, in key order, for the bundle manifest.
func missing(sources []digests.Image, failed map[string]error, blockPaths map[string]string) []archive.Missing {
	var out []archive.Missing
	for _, im := range sources {
		err, ok := failed[im.Key()]
		if !ok {
			continue
		}
		reason := err.Error()
		if len(reason) > maxReason {
			reason = reason[:maxReason] + "..."
		}
		ms := archive.Missing{Entry: im.Entry, ListedDigest: im.Digest, ValuesPath: blockPaths[im.Key()], Reason: reason}
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// maxReason bounds the reason recorded for a missing container.
const maxReason = 1000
