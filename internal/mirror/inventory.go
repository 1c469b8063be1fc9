package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// InventoryMediaType identifies an inventory file.
const InventoryMediaType = "application/vnd.element.ess.inventory.v1+json"

// ErrBadInventory is wrapped when an inventory file is not one this version reads.
var ErrBadInventory = errors.New("not a valid inventory file")

// Inventory records what a registry holds for some repositories: every tag, and every manifest
// and blob digest reachable from them. It is made on the air-gapped side (unbundle inventory)
// and carried back so that a delta bundle leaves out what the registry has (bundle create
// --since). It holds digests, repository paths, tags and the registry string only: no
// credentials. The JSON form is documented in docs/bundle-format.md ("Inventory files").
type Inventory struct {
	FormatVersion int    `json:"formatVersion"` // 1
	MediaType     string `json:"mediaType"`     // InventoryMediaType
	// Registry is the destination, HOST[:PORT][/PREFIX], the prefix including --path-prefix.
	Registry     string          `json:"registry"`
	Created      time.Time       `json:"created"`
	Repositories []InventoryRepo `json:"repositories"` // sorted by name
	Manifests    []string        `json:"manifests"`    // sorted, unique: every manifest and index digest seen
	Blobs        []string        `json:"blobs"`        // sorted, unique: every config and layer digest seen
}

// InventoryRepo is one repository (its path on the registry, without the host) and the digest
// it serves for each of its tags. A repository the registry does not know has no tags.
type InventoryRepo struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags"` // tag -> digest served
}

// TakeInventory lists the tags of each repository in repos (paths on d's registry, as
// Destination.Repo gives them; duplicates are ignored) and walks what each tag serves: an
// index's children by digest (verified), each manifest's config and layers (named, not
// fetched). A repository the registry does not know is recorded with no tags; any other
// failure (a tag that vanishes between the list and the fetch, a manifest that is neither OCI
// nor Docker v2) is an error naming the repository and tag. Repositories are read the client's
// jobs at a time, with pull access only. Created is the current time, to the second, in UTC.
func TakeInventory(ctx context.Context, c *oci.Client, d Destination, repos []string) (*Inventory, error) {
	repos = slices.Compact(slices.Sorted(slices.Values(repos)))
	p, err := c.ReadSession(ctx, d.Host)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{FormatVersion: 1, MediaType: InventoryMediaType, Registry: d.Host,
		Created: time.Now().UTC().Truncate(time.Second), Repositories: make([]InventoryRepo, len(repos))}
	if d.Prefix != "" {
		inv.Registry += "/" + d.Prefix
	}
	w := &inventoryWalk{p: p, walked: map[string]bool{}, manifests: map[string]bool{}, blobs: map[string]bool{}}
	errs := make([]error, len(repos))
	sem := make(chan struct{}, c.Jobs())
	var wg sync.WaitGroup
	for i, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			inv.Repositories[i], errs[i] = w.repo(ctx, repo)
		}()
	}
	wg.Wait()
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
func (w *inventoryWalk) repo(ctx context.Context, repo string) (InventoryRepo, error) {
	r := InventoryRepo{Name: repo, Tags: map[string]string{}}
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

// ReadInventory reads an inventory file. It refuses (with an error wrapping ErrBadInventory)
// a file that is not JSON, another format version or media type, or that holds a string that
// is not a sha256 digest where a digest belongs. Manifests and Blobs come back sorted and
// unique, whatever the file's order.
func ReadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrBadInventory, err)
	}
	if inv.FormatVersion != 1 || inv.MediaType != InventoryMediaType {
		return nil, fmt.Errorf("%s: %w: format version %d, media type %q; want 1, %s",
			path, ErrBadInventory, inv.FormatVersion, inv.MediaType, InventoryMediaType)
	}
	var digests []string
	for _, r := range inv.Repositories {
		for _, d := range r.Tags {
			digests = append(digests, d)
		}
	}
	for _, d := range append(append(digests, inv.Manifests...), inv.Blobs...) {
		if err := verify.Check(d); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, ErrBadInventory, err)
		}
	}
	slices.Sort(inv.Manifests)
	slices.Sort(inv.Blobs)
	inv.Manifests, inv.Blobs = slices.Compact(inv.Manifests), slices.Compact(inv.Blobs)
	return &inv, nil
}

// Has reports whether the inventory records digest as a manifest, an index or a blob. It
// relies on Manifests and Blobs being sorted, as TakeInventory and ReadInventory leave them.
func (inv *Inventory) Has(digest string) bool {
	_, m := slices.BinarySearch(inv.Manifests, digest)
	_, b := slices.BinarySearch(inv.Blobs, digest)
	return m || b
}
