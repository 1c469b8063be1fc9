package push

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TakeInventory lists the tags of each repository in repos (paths on d's registry, as
// Destination.Repo gives them; duplicates are ignored) and walks what each tag serves: an
// index's children by digest (verified), each manifest's config and layers (named, not
// fetched). A repository the registry does not know is recorded with no tags; any other
// failure (a tag that vanishes between the list and the fetch, a manifest that is neither OCI
// nor Docker v2) is an error naming the repository and tag. Repositories are read jobs at a
// time (mirror.DefaultJobs when 0), with pull access only. Created is the current time, to the second, in UTC.
func TakeInventory(ctx context.Context, c *oci.Client, d Destination, repos []string, jobs int) (*delta.Inventory, error) {
	repos = slices.Compact(slices.Sorted(slices.Values(repos)))
	p, err := c.ReadSession(ctx, d.Host)
	if err != nil {
		return nil, err
	}
	inv := &delta.Inventory{FormatVersion: 1, MediaType: delta.InventoryMediaType, Registry: d.Host,
		Created: time.Now().UTC().Truncate(time.Second), Repositories: make([]delta.InventoryRepo, len(repos))}
	if d.Prefix != "" {
		inv.Registry += "/" + d.Prefix
	}
	w := &inventoryWalk{p: p, walked: map[string]bool{}, manifests: map[string]bool{}, blobs: map[string]bool{}}
	errs := make([]error, len(repos))
	mirror.ForEach(ctx, mirror.JobsOr(jobs), repos, func(i int, repo string) {
		inv.Repositories[i], errs[i] = w.repo(ctx, repo)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	inv.Manifests, inv.Blobs = sortedSet(w.manifests), sortedSet(w.blobs)
	return inv, nil
}

// inventoryWalk collects digests across repositories. Safe for concurrent use.
type inventoryWalk struct {
	p  *oci.Session
	mu sync.Mutex
	// walked holds the tag digests already walked, in any repository: the same digest names
	// the same tree everywhere, so it is fetched once.
	walked           map[string]bool
	manifests, blobs map[string]bool
}

// repo lists one repository's tags and walks what each serves.
func (w *inventoryWalk) repo(ctx context.Context, repo string) (delta.InventoryRepo, error) {
	r := delta.InventoryRepo{Name: repo, Tags: map[string]string{}}
	tags, err := w.p.ListTags(ctx, repo)
	if errors.Is(err, oci.ErrNotFound) || errors.Is(err, oci.ErrUnauthorized) {
		// Absent. Harbor answers 401 for a repository of a project that does not exist, and
		// the credentials were checked against the registry already.
		return r, nil
	}
	if err != nil {
		return r, err
	}
	for _, tag := range tags {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		raw, mt, err := w.p.GetManifest(ctx, repo, tag)
		if err != nil {
			return r, err
		}
		dg := verify.Digest(raw)
		r.Tags[tag] = dg
		if w.seen(dg) {
			continue
		}
		fetch := func(ctx context.Context, d manifest.Descriptor) ([]byte, error) {
			raw, _, err := w.p.GetManifest(ctx, repo, d.Digest)
			return raw, err
		}
		root, err := manifest.Parse(ctx, manifest.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(raw))}, raw, fetch)
		if err != nil {
			return r, fmt.Errorf("%s:%s: %w", repo, tag, err)
		}
		w.mu.Lock()
		root.Walk(func(n *manifest.Node) {
			w.manifests[n.Desc.Digest] = true
			for _, b := range n.Blobs {
				w.blobs[b.Digest] = true
			}
		})
		w.mu.Unlock()
	}
	return r, nil
}

// seen reports whether the tree of digest was walked already, and marks it.
func (w *inventoryWalk) seen(digest string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.walked[digest] {
		return true
	}
	w.walked[digest] = true
	return false
}

func sortedSet(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
