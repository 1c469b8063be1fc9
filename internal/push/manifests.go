package push

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// pushManifests pushes every target's manifests, children first, then reads its tag back.
func (r *pushRun) pushManifests(ctx context.Context, ts []*target, res *Pushed) {
	r.forTargets(ctx, ts, res, func(t *target) (string, error) { return r.pushTarget(ctx, t) })
}

// forTargets runs fn for every target, the operation's jobs at a time, and records the outcome of
// each of its containers in res.
func (r *pushRun) forTargets(ctx context.Context, ts []*target, res *Pushed, fn func(*target) (string, error)) {
	var mu sync.Mutex
	mirror.ForEach(ctx, r.workers, ts, func(_ int, t *target) {
		digest, err := fn(t)
		mu.Lock()
		defer mu.Unlock()
		for _, im := range t.images {
			if err != nil {
				res.Failed[im.Key()] = fmt.Errorf("%s: %w", t, err)
				continue
			}
			at := im.Entry // the entry, where it now is
			at.Server, at.Path = r.p.Host(), t.repo
			res.Images = append(res.Images, digests.Image{Entry: at, Digest: digest})
		}
	})
	sort.Slice(res.Images, func(i, k int) bool { return res.Images[i].Key() < res.Images[k].Key() })
}

// pushTarget pushes one image's manifests and returns the digest the registry serves for it;
// a tag that serves the image's digest already is left as it is.
func (r *pushRun) pushTarget(ctx context.Context, t *target) (string, error) {
	var failed []error
	r.mu.Lock()
	t.root().Walk(func(n *manifest.Node) {
		for _, d := range n.Blobs {
			if err := r.blobErr[blobKey(d.Digest, t.repo)]; err != nil {
				failed = append(failed, err)
			}
		}
	})
	r.mu.Unlock()
	switch len(failed) {
	case 0:
	case 1:
		return "", failed[0]
	default:
		return "", fmt.Errorf("%d blobs failed, the first: %w", len(failed), failed[0])
	}
	ref := t.tag
	if ref == "" {
		ref = t.digest
	}
	// A rerun: the tag points at the digest already (and so the registry has what it names).
	// Putting it again would make Harbor scan the image again, for nothing.
	if got, err := r.p.ResolveTag(ctx, t.repo, ref); err == nil && got == t.digest {
		r.stats.manifestsSkipped.Add(1)
		return got, nil
	}
	var err error
	t.root().Walk(func(n *manifest.Node) {
		if err != nil || n == t.root() {
			return
		}
		err = r.putManifest(ctx, t.repo, n.Desc.Digest, n)
	})
	if err != nil {
		return "", err
	}
	if err := r.p.PutManifest(ctx, t.repo, ref, t.root().Raw, t.root().Desc.MediaType); err != nil {
		return "", err
	}
	r.stats.manifestsPushed.Add(1)
	return r.readBack(ctx, t)
}

// readBack returns the digest the registry serves for the target's tag, which must be the bundle's.
func (r *pushRun) readBack(ctx context.Context, t *target) (string, error) {
	ref := t.tag
	if ref == "" {
		ref = t.digest
	}
	got, err := r.p.ResolveTag(ctx, t.repo, ref)
	if err != nil {
		return "", err
	}
	if got != t.digest {
		return "", fmt.Errorf("%w: %s serves %s, the bundle has %s", ErrReadBack, ref, got, t.digest)
	}
	return got, nil
}

// ReadBack reads every tag of the bundle back from the destination, without pushing, and
// returns the images as the registry serves them. A tag that is missing or serves another
// digest than the bundle's is reported in Failed, and the error wraps mirror.ErrPartial. jobs tags are
// read at once (mirror.DefaultJobs when 0).
func ReadBack(ctx context.Context, c *oci.Client, b *archive.Bundle, d Destination, jobs int) (*Pushed, error) {
	ts, err := targets(d, graph.New(b).Images()) // tags and digests: no manifest read
	if err != nil {
		return nil, err
	}
	p, err := c.ReadSession(ctx, d.Host)
	if err != nil {
		return nil, err
	}
	r := &pushRun{c: c, b: b, p: p, workers: mirror.JobsOr(jobs)}
	res := &Pushed{Failed: map[string]error{}}
	r.forTargets(ctx, ts, res, func(t *target) (string, error) { return r.readBack(ctx, t) })
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d containers", mirror.ErrPartial, len(res.Failed), len(b.Manifest().Images))
	}
	return res, nil
}

// putManifest pushes a child manifest by digest unless the repository has it.
func (r *pushRun) putManifest(ctx context.Context, repo, ref string, n *manifest.Node) error {
	ok, err := r.p.ManifestExists(ctx, repo, n.Desc.Digest)
	if err != nil {
		return err
	}
	if ok {
		r.stats.manifestsSkipped.Add(1)
		return nil
	}
	if err := r.p.PutManifest(ctx, repo, ref, n.Raw, n.Desc.MediaType); err != nil {
		return err
	}
	r.stats.manifestsPushed.Add(1)
	return nil
}
