package create

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// resolve fetches every distinct image's manifest tree, in parallel, holding what it reads in
// held. It returns the images that resolved, in order, and why the others did not, per
// container key.
func resolve(ctx context.Context, c *oci.Client, jobs int, groups []digests.Group, platforms []manifest.Platform, held *heldBytes) ([]*image, map[string]error) {
	images := make([]*image, len(groups))
	errs := make([]error, len(groups))
	mirror.ForEach(ctx, mirror.MetadataJobs(jobs), groups, func(i int, g digests.Group) {
		errs[i] = mirror.RetryMany(ctx, c, func(ctx context.Context) error {
			var err error
			images[i], err = resolveOne(ctx, c, g, platforms, held)
			return err
		})
	})
	for i := range errs {
		if errs[i] == nil && images[i] == nil { // not started: cancelled
			errs[i] = ctx.Err()
		}
	}
	var ok []*image
	failed := map[string]error{}
	for i, g := range groups {
		if errs[i] == nil {
			ok = append(ok, images[i])
			continue
		}
		for _, m := range g.Members {
			failed[m.Key()] = errs[i]
		}
	}
	return ok, failed
}

func resolveOne(ctx context.Context, c *oci.Client, g digests.Group, platforms []manifest.Platform, held *heldBytes) (*image, error) {
	src := g.Source
	im := &image{group: g, ref: src.Ref()}
	if src.Digest != "" {
		im.ref = src.Repository() + "@" + src.Digest
	}
	fail := func(err error) (*image, error) {
		return nil, fmt.Errorf("%s (%s): %w", memberKeys(g), src.Ref(), err)
	}
	m, err := c.GetManifest(ctx, im.ref)
	if err == nil {
		err = held.manifest(m.Digest, len(m.Raw))
	}
	if err != nil {
		return fail(err)
	}
	root := manifest.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
	if im.root, err = manifest.Parse(ctx, root, m.Raw, fetchFrom(c, src.Repository(), held)); err != nil {
		return fail(err)
	}
	switch {
	case len(platforms) == 0:
	case manifest.IsManifest(im.root.Desc.MediaType):
		if err := checkPlatform(ctx, c, src.Repository(), im.root, platforms, held); err != nil {
			return fail(err)
		}
	default:
		filtered, err := manifest.FilterPlatforms(im.root, platforms)
		if err != nil {
			return fail(err)
		}
		if filtered.Desc.Digest != im.root.Desc.Digest {
			im.upstream = im.root.Desc.Digest
		}
		im.root = filtered
	}
	if err := fetchConfigs(ctx, c, src.Repository(), im.root, held); err != nil {
		return fail(err)
	}
	return im, nil
}

// heldBytes counts, once per digest, the manifests, indexes and configs a run reads into
// memory, and refuses either kind past manifest.MaxTotalBytes: each image's graph is bounded
// on its own (manifest.Parse), this bounds them together. Safe for concurrent use.
type heldBytes struct {
	mu                 sync.Mutex
	seen               map[string]bool
	manifests, configs int64
}

func newHeldBytes() *heldBytes { return &heldBytes{seen: map[string]bool{}} }

// manifest holds a manifest or index of n bytes.
func (h *heldBytes) manifest(digest string, n int) error {
	return h.add(digest, n, &h.manifests, "the images")
}

// config holds a config of n bytes.
func (h *heldBytes) config(digest string, n int64) error {
	return h.add(digest, int(n), &h.configs, "the images' configs")
}

func (h *heldBytes) add(digest string, n int, total *int64, what string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[digest] {
		return nil
	}
	h.seen[digest] = true
	*total += int64(n)
	return manifest.CheckTotal(what, *total)
}

// fetchConfigs reads the config of every manifest of the tree that has none yet, here in the
// image's worker: over a site's uplink each is a round trip, overlapped with the other images'.
func fetchConfigs(ctx context.Context, c *oci.Client, repo string, root *manifest.Node, held *heldBytes) error {
	var err error
	root.Walk(func(n *manifest.Node) {
		if err != nil || len(n.Blobs) == 0 || n.Config != nil {
			return
		}
		cfg := n.Blobs[0]
		if err = held.config(cfg.Digest, cfg.Size); err == nil {
			n.Config, err = fetchConfig(ctx, c, repo, cfg)
		}
		if err != nil {
			err = fmt.Errorf("config %s: %w", cfg.Digest, err)
		}
	})
	return err
}

// checkPlatform checks that a single-platform image is of one of the platforms asked for.
func checkPlatform(ctx context.Context, c *oci.Client, repo string, n *manifest.Node, want []manifest.Platform, held *heldBytes) error {
	cfg := n.Blobs[0]
	err := held.config(cfg.Digest, cfg.Size)
	var data []byte
	if err == nil {
		data, err = fetchConfig(ctx, c, repo, cfg)
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", cfg.Digest, err)
	}
	n.Config = data // kept: collect does not fetch it again
	var p manifest.Platform
	json.Unmarshal(data, &p)
	for _, w := range want {
		if w.Matches(&p) {
			return nil
		}
	}
	return fmt.Errorf("%w: the image is %s only, not %s", mirror.ErrPlatform, p.String(), platformList(want))
}

// fetchConfig reads a config (small) into memory, verified; one over manifest.MaxBytes is
// refused before it is fetched.
func fetchConfig(ctx context.Context, c *oci.Client, repo string, d manifest.Descriptor) ([]byte, error) {
	if err := manifest.CheckSize("", d.Size); err != nil { // callers name the config
		return nil, err
	}
	return mirror.ReadBlob(ctx, c, repo, d)
}

func platformList(ps []manifest.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func memberKeys(g digests.Group) string {
	keys := make([]string, len(g.Members))
	for i, m := range g.Members {
		keys[i] = m.Key()
	}
	return strings.Join(keys, ", ")
}

// collect lists the distinct blobs in bundle order: indexes and manifests, configs, then
// layers, each in order of first appearance, configs with their bytes. Layers for which
// have is true are returned apart, as external: a delta bundle does not carry them.
func collect(ctx context.Context, c *oci.Client, images []*image, have func(string) bool) ([]*blob, []archive.Blob, error) {
	seen := map[string]bool{}
	var metas, configs, layers []*blob
	var external []archive.Blob
	for _, im := range images {
		repo := im.group.Source.Repository()
		roots := []*manifest.Node{im.root}
		for _, r := range im.referrers {
			roots = append(roots, r.node)
		}
		for _, root := range roots {
			root.Walk(func(n *manifest.Node) {
				if !seen[n.Desc.Digest] {
					seen[n.Desc.Digest] = true
					kind := archive.KindManifest
					if manifest.IsIndex(n.Desc.MediaType) {
						kind = archive.KindIndex
					}
					metas = append(metas, &blob{Blob: archive.Blob{Digest: n.Desc.Digest, Size: n.Desc.Size, MediaType: n.Desc.MediaType, Kind: kind}, repo: repo, data: n.Raw})
				}
				for i, d := range n.Blobs {
					if seen[d.Digest] {
						continue
					}
					seen[d.Digest] = true
					b := &blob{Blob: archive.Blob{Digest: d.Digest, Size: d.Size, MediaType: d.MediaType, Kind: archive.KindLayer}, repo: repo}
					switch {
					case i == 0:
						b.Kind = archive.KindConfig
						b.data = n.Config
						configs = append(configs, b)
					case have != nil && have(d.Digest):
						external = append(external, b.Blob)
					default:
						layers = append(layers, b)
					}
				}
			})
		}
	}
	// The resolution workers read the configs already (fetchConfigs, side by side over an
	// uplink), and a chart carries its own: this reads only what came some other way.
	for _, b := range configs {
		if b.data != nil {
			continue
		}
		var err error
		if b.data, err = fetchConfig(ctx, c, b.repo, manifest.Descriptor{Digest: b.Digest, Size: b.Size}); err != nil {
			return nil, nil, fmt.Errorf("config %s of %s: %w", b.Digest, b.repo, err)
		}
	}
	// Largest layers first: the parallel pulls finish sooner, and the push reads in that order.
	sort.SliceStable(layers, func(i, j int) bool { return layers[i].Size > layers[j].Size })
	return append(append(metas, configs...), layers...), external, nil
}
