package push

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
)

// pushReferrers pushes the referrers of every target whose images were all pushed, into its
// repository, after the images: a repository at a time (its referrers in the bundle's
// order, a subject before what refers to it), the operation's jobs repositories at once. A
// cosign tag is put as a tag; an OCI 1.1 referrer by digest, and, where the registry has no
// referrers API, added to its subject's index under the referrers tag scheme. A referrer that
// fails is recorded in res.ReferrersFailed; the images stay pushed.
func (r *pushRun) pushReferrers(ctx context.Context, ts []*target, res *Pushed) {
	byRepo := map[string][]graph.Referrer{}
	var repos []string
	for _, t := range ts {
		if len(t.refs()) == 0 || slices.ContainsFunc(t.images, func(im *graph.Image) bool { return res.Failed[im.Key()] != nil }) {
			continue
		}
		if _, ok := byRepo[t.repo]; !ok {
			repos = append(repos, t.repo)
		}
		for _, tr := range t.refs() {
			if !slices.ContainsFunc(byRepo[t.repo], func(o graph.Referrer) bool { return o.Digest == tr.Digest && o.Tag == tr.Tag }) {
				byRepo[t.repo] = append(byRepo[t.repo], tr)
			}
		}
	}
	var mu sync.Mutex
	mirror.ForEach(ctx, r.workers, repos, func(_ int, repo string) {
		for _, tr := range byRepo[repo] {
			if ctx.Err() != nil {
				return
			}
			if err := r.pushReferrer(ctx, repo, tr); err != nil {
				r.stats.referrersFailed.Add(1)
				mu.Lock()
				res.ReferrersFailed[repo+": "+tr.String()] = err
				mu.Unlock()
			}
		}
	})
}

// pushReferrer pushes one referrer into repo, unless the repository has it already (under its
// tag, and in its subject's index where that is kept by the tag scheme).
func (r *pushRun) pushReferrer(ctx context.Context, repo string, tr graph.Referrer) error {
	var failed []error
	r.mu.Lock()
	tr.Node.Walk(func(n *manifest.Node) {
		for _, d := range n.Blobs {
			if err := r.blobErr[blobKey(d.Digest, repo)]; err != nil {
				failed = append(failed, err)
			}
		}
	})
	r.mu.Unlock()
	if len(failed) > 0 {
		return failed[0]
	}
	var err error
	tr.Node.Walk(func(n *manifest.Node) { // an index's children first
		if err == nil && n != tr.Node {
			err = r.putManifest(ctx, repo, n.Desc.Digest, n)
		}
	})
	if err != nil {
		return err
	}
	there, err := r.p.ManifestExists(ctx, repo, tr.Digest)
	if err != nil {
		return err
	}
	if there && tr.Tag != "" {
		got, err := r.p.ResolveTag(ctx, repo, tr.Tag)
		there = err == nil && got == tr.Digest
	}
	pushed := false
	if !there {
		ref := tr.Tag
		if ref == "" {
			ref = tr.Digest
		}
		if err := r.p.PutManifest(ctx, repo, ref, tr.Node.Raw, tr.MediaType); err != nil {
			return err
		}
		pushed = true
	}
	if subject := manifest.SubjectOf(tr.Node.Raw); subject != "" {
		api, err := r.referrersAPI(ctx, repo, subject)
		if err != nil {
			return err
		}
		if !api {
			added, err := r.p.AddReferrers(ctx, repo, subject, []manifest.Descriptor{manifest.ReferrerDescriptor(tr.Node.Raw, tr.MediaType)})
			if err != nil {
				return err
			}
			pushed = pushed || added
		}
	}
	if pushed {
		r.stats.referrersPushed.Add(1)
	} else {
		r.stats.referrersSkipped.Add(1)
	}
	return nil
}

// referrersAPI asks once a run whether the registry serves the referrers API, of a repository
// and subject just pushed (some registries answer 404 for a repository they do not have).
func (r *pushRun) referrersAPI(ctx context.Context, repo, subject string) (bool, error) {
	r.refAPIMu.Lock()
	defer r.refAPIMu.Unlock()
	if r.refAPI == nil {
		has, err := r.p.HasReferrersAPI(ctx, repo, subject)
		if err != nil {
			return false, err
		}
		r.refAPI = &has
	}
	return *r.refAPI, nil
}

// referrersError is the error of a push whose images all went and some referrers did not.
func referrersError(failed map[string]error) error {
	keys := make([]string, 0, len(failed))
	for k := range failed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Errorf("%w: %w: %d of them, the first %s: %w", mirror.ErrPartial, ErrReferrers, len(failed), keys[0], failed[keys[0]])
}
