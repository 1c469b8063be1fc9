package push

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// PushOptions says where to push.
type PushOptions struct {
	Destination Destination
	Progress    mirror.Progress // may be nil
	// Jobs is how many blobs are uploaded at once (mirror.DefaultJobs when 0; unbundle push's
	// default is mirror.DefaultPushJobs), and how many manifests are pushed at once.
	Jobs int
}

// Pushed is the outcome of a push.
type Pushed struct {
	// Images are the bundle's containers as the registry now serves them: Server is the
	// destination host, Path the destination repository, Digest what the registry returned
	// for the tag when read back. Failed images are left out.
	Images []digests.Image
	// Failed lists, per container key, why it was not pushed.
	Failed map[string]error
	// Problems are what the preflight found that stopped the push before any blob was sent.
	Problems []Problem
	Stats    Stats
	// ReferrersFailed lists, per "repository: referrer", why a referrer was not pushed.
	ReferrersFailed map[string]error
}

// Stats counts what a push did with blobs and manifests.
type Stats struct {
	BlobsUploaded, BlobsMounted, BlobsSkipped int64
	BytesUploaded                             int64
	ManifestsPushed, ManifestsSkipped         int64
	// Referrers (signatures, attestations, SBOMs) pushed, already there, failed.
	ReferrersPushed, ReferrersSkipped, ReferrersFailed int64
}

// Push pushes every image of the bundle into the destination registry, then reads every tag
// back. Blobs go first, largest first, through one pool of o.Jobs workers: each blob is
// uploaded once, straight from the bundle and verified as it streams, and mounted into the other
// repositories that need it; blobs the registry has are skipped. Manifests follow, children
// before the index that names them, as the exact bytes of the bundle. An image whose blob or
// manifest failed is reported in Pushed.Failed and the error wraps mirror.ErrPartial; the other images
// are pushed all the same.
func Push(ctx context.Context, c *oci.Client, b *archive.Bundle, o PushOptions) (*Pushed, error) {
	if o.Progress == nil {
		o.Progress = mirror.NoProgress{}
	}
	m := b.Manifest()
	g := graph.New(b)
	ts, err := targets(o.Destination, g.Images())
	if err != nil {
		return nil, err
	}
	if err := g.Load(ctx); err != nil { // verified and bounded: past the bounds the bundle is corrupt
		return nil, err
	}
	all := slices.Clone(ts)
	var repos []string
	for _, t := range ts {
		repos = appendNew(repos, t.repo)
	}
	// A delta's blobs may have to be mounted from its base's repositories: read access there.
	var baseRepos []string
	if base := m.Base; base != nil {
		for _, path := range base.Paths {
			if r := graph.Repo(o.Destination.Prefix, path); !slices.Contains(repos, r) {
				baseRepos = appendNew(baseRepos, r)
			}
		}
	}
	p, err := c.PushSession(ctx, o.Destination.Host)
	if err != nil {
		return nil, err
	}
	run := &pushRun{c: c, b: b, g: g, p: p, workers: mirror.JobsOr(o.Jobs), progress: o.Progress, blobErr: map[string]error{}}
	jobs := blobJobs(g, ts)
	candidates := append(append([]string{}, repos...), baseRepos...)
	if err := run.checkBase(ctx, jobs, candidates); err != nil {
		return nil, err
	}
	res := &Pushed{Failed: map[string]error{}, ReferrersFailed: map[string]error{}}
	o.Progress.SetTotal(totalBytes(jobs))
	run.jobs, run.first = jobs, res
	bctx, cancel := context.WithCancel(ctx) // the stopper cancels it: the blobs stop
	defer cancel()
	run.stop = newStopper(cancel)
	checked, err := run.check(bctx, ts, CheckOptions{Destination: o.Destination})
	if cause := run.stop.stopped(); cause != "" && ctx.Err() == nil {
		return run.stopped(ts, res, cause)
	}
	if err != nil {
		return nil, err
	}
	if res.Problems = checked.Problems; len(res.Problems) > 0 {
		return res, fmt.Errorf("%w: %d cause(s), nothing else pushed", mirror.ErrRefused, len(res.Problems))
	}
	run.pushBlobs(bctx, jobs)
	if cause := run.stop.stopped(); cause != "" && ctx.Err() == nil {
		return run.stopped(ts, res, cause)
	}
	run.pushManifests(ctx, slices.DeleteFunc(ts, func(t *target) bool { return t.pushed }), res)
	for _, im := range res.Images {
		mirror.Observe(o.Progress, mirror.Event{Kind: "image", Phase: "pushed", Container: im.Key(), Ref: im.Ref(), Digest: im.Digest})
	}
	for _, k := range slices.Sorted(maps.Keys(res.Failed)) {
		mirror.Observe(o.Progress, mirror.Event{Kind: "image", Phase: "failed", Container: k, Err: res.Failed[k]})
	}
	run.pushReferrers(ctx, all, res)
	res.Stats = run.stats.snapshot()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(res.Failed) > 0 {
		return res, mirror.FailedError(fmt.Errorf("%w: %d of %d containers", mirror.ErrPartial, len(res.Failed), len(m.Images)), res.Failed)
	}
	if len(res.ReferrersFailed) > 0 {
		return res, referrersError(res.ReferrersFailed)
	}
	return res, nil
}

// stopped ends a push the stopper stopped: every container not pushed yet fails with the cause.
func (r *pushRun) stopped(ts []*target, res *Pushed, cause string) (*Pushed, error) {
	err := fmt.Errorf("%w: %s", mirror.ErrStopped, cause)
	done := map[string]bool{}
	for _, im := range res.Images {
		done[im.Key()] = true
	}
	for _, t := range ts {
		for _, im := range t.images {
			if !done[im.Key()] {
				res.Failed[im.Key()] = err
			}
		}
	}
	res.Stats = r.stats.snapshot()
	return res, fmt.Errorf("%w (%d blobs in a row, none passed since): the push stopped, %d of %d containers not pushed",
		err, stopAfter, len(res.Failed), len(res.Failed)+len(res.Images))
}

type pushRun struct {
	c        *oci.Client
	b        *archive.Bundle
	g        *graph.Graph // b's, loaded (nil for a read back)
	p        *oci.Session
	workers  int // the operation's jobs: its pools' size
	progress mirror.Progress
	stats    counters

	jobs  []*blobJob // every blob of the push
	first *Pushed    // where the image pushed by the preflight goes; nil outside a push
	stop  *stopper   // nil outside a push

	mu      sync.Mutex
	blobErr map[string]error // blobKey(digest, repo) -> why it failed

	refAPIMu sync.Mutex
	refAPI   *bool // whether the registry serves the referrers API; nil until asked
}

type counters struct {
	blobsUploaded, blobsMounted, blobsSkipped, bytesUploaded atomic.Int64
	manifestsPushed, manifestsSkipped                        atomic.Int64
	referrersPushed, referrersSkipped, referrersFailed       atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{BlobsUploaded: c.blobsUploaded.Load(), BlobsMounted: c.blobsMounted.Load(),
		BlobsSkipped: c.blobsSkipped.Load(), BytesUploaded: c.bytesUploaded.Load(),
		ManifestsPushed: c.manifestsPushed.Load(), ManifestsSkipped: c.manifestsSkipped.Load(),
		ReferrersPushed: c.referrersPushed.Load(), ReferrersSkipped: c.referrersSkipped.Load(), ReferrersFailed: c.referrersFailed.Load()}
}
