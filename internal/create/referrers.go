package create

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// maxReferrerDepth bounds referrers of referrers (a signature of an attestation is depth 2).
const maxReferrerDepth = 4

// maxReferrers bounds the referrers listed for one image, at every depth, before they are
// fetched: an image has a signature, a few attestations and SBOMs per platform, some tens.
const maxReferrers = 1000

// referrer is a manifest that refers to one of an image's, as found upstream.
type referrer struct {
	archive.Referrer
	node *manifest.Node
}

// Skipped is a referrer found upstream and not carried, and why.
type Skipped struct {
	Image    string // component.container keys of the image
	Referrer string // its digest (and tag)
	Reason   string
}

// findReferrers finds, for every image, what refers to its manifests and indexes, and what
// refers to those in turn: OCI 1.1 referrers (the referrers API, or the referrers tag scheme's
// index) and cosign's tags (sha256-<hex>.sig, .att, .sbom, from one tags list a repository).
// It keeps those of the given types (manifest.Matches; all when none), fetched by digest or
// tag and parsed with their children; a referrer that is not an image manifest or index (the
// withdrawn OCI artifact manifest) is skipped and reported. An image whose referrers cannot
// be read fails, as one whose manifest cannot: it is returned in failed and left out.
func findReferrers(ctx context.Context, c *oci.Client, jobs int, images []*image, types []string, held *heldBytes) ([]*image, map[string]error, []Skipped) {
	errs := make([]error, len(images))
	skipped := make([][]Skipped, len(images))
	tags := &tagLists{lists: map[string]map[string]bool{}}
	mirror.ForEach(ctx, mirror.MetadataJobs(jobs), images, func(i int, im *image) {
		errs[i] = mirror.RetryMany(ctx, c, func(ctx context.Context) error {
			im.referrers, skipped[i] = nil, nil
			var err error
			skipped[i], err = im.findReferrers(ctx, c, tags, types, held)
			return err
		})
	})
	var ok []*image
	failed := map[string]error{}
	var all []Skipped
	for i, im := range images {
		if errs[i] == nil {
			errs[i] = ctx.Err()
		}
		if errs[i] == nil {
			ok = append(ok, im)
			all = append(all, skipped[i]...)
			continue
		}
		for _, m := range im.group.Members {
			failed[m.Key()] = fmt.Errorf("%s (%s): referrers: %w", memberKeys(im.group), im.group.Source.Ref(), errs[i])
		}
	}
	return ok, failed, all
}

// findReferrers walks im's manifests breadth first, then what refers to them, down to
// maxReferrerDepth.
func (im *image) findReferrers(ctx context.Context, c *oci.Client, tags *tagLists, types []string, held *heldBytes) ([]Skipped, error) {
	repo := im.group.Source.Repository()
	tagged, err := tags.get(ctx, c, repo)
	if err != nil {
		return nil, err
	}
	var queue []string
	queued := map[string]bool{}
	im.root.Walk(func(n *manifest.Node) {
		if !queued[n.Desc.Digest] {
			queued[n.Desc.Digest] = true
			queue = append(queue, n.Desc.Digest)
		}
	})
	var skipped []Skipped
	found := map[string]bool{}
	listed := 0
	for depth := 1; depth <= maxReferrerDepth && len(queue) > 0; depth++ {
		var next []string
		for _, subject := range queue {
			descs, err := c.Referrers(ctx, repo, subject)
			if err != nil {
				return nil, err
			}
			var refs []string // "@digest" or ":tag"
			for _, d := range descs {
				refs = append(refs, "@"+d.Digest)
			}
			for _, sfx := range manifest.CosignSuffixes {
				if tag := manifest.CosignTag(subject, sfx); tagged[tag] {
					refs = append(refs, ":"+tag)
				}
			}
			if listed += len(refs); listed > maxReferrers {
				return nil, fmt.Errorf("%w: more than %d referrers listed for the image (at %s): refused", manifest.ErrBad, maxReferrers, subject)
			}
			for _, ref := range refs {
				m, err := c.GetManifest(ctx, repo+ref)
				if err != nil {
					return nil, err
				}
				tag := ""
				if ref[0] == ':' {
					tag = ref[1:]
				}
				if found[m.Digest+" "+tag] || !manifest.Matches(m.Raw, types) {
					continue
				}
				found[m.Digest+" "+tag] = true
				if !manifest.IsManifest(m.MediaType) && !manifest.IsIndex(m.MediaType) {
					skipped = append(skipped, Skipped{Image: memberKeys(im.group), Referrer: m.Digest + ref,
						Reason: fmt.Sprintf("of media type %s, not an image manifest or index", m.MediaType)})
					continue
				}
				d := manifest.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
				err = held.manifest(m.Digest, len(m.Raw))
				var node *manifest.Node
				if err == nil {
					node, err = manifest.Parse(ctx, d, m.Raw, fetchFrom(c, repo, held))
				}
				if err == nil {
					err = fetchConfigs(ctx, c, repo, node, held)
				}
				if err != nil {
					return nil, fmt.Errorf("referrer %s of %s: %w", m.Digest, subject, err)
				}
				im.referrers = append(im.referrers, &referrer{Referrer: archive.Referrer{Subject: subject, Digest: m.Digest,
					MediaType: m.MediaType, Size: d.Size, ArtifactType: manifest.ArtifactType(m.Raw), Tag: tag}, node: node})
				if !queued[m.Digest] {
					queued[m.Digest] = true
					next = append(next, m.Digest)
				}
			}
		}
		queue = next
	}
	return skipped, nil
}

// fetchFrom fetches the manifests an index names from repo, by digest (verified), checking
// size and media type against the index.
func fetchFrom(c *oci.Client, repo string, held *heldBytes) manifest.FetchFunc {
	return func(ctx context.Context, d manifest.Descriptor) ([]byte, error) {
		if err := held.manifest(d.Digest, int(d.Size)); err != nil {
			return nil, err
		}
		cm, err := c.GetManifest(ctx, repo+"@"+d.Digest)
		if err != nil {
			return nil, err
		}
		if int64(len(cm.Raw)) != d.Size || cm.MediaType != d.MediaType {
			return nil, fmt.Errorf("manifest %s: served %d bytes as %s, the index says %d bytes of %s", d.Digest, len(cm.Raw), cm.MediaType, d.Size, d.MediaType)
		}
		return cm.Raw, nil
	}
}

// tagLists lists each repository's tags once, for cosign's tags.
type tagLists struct {
	mu    sync.Mutex
	lists map[string]map[string]bool
}

func (t *tagLists) get(ctx context.Context, c *oci.Client, repo string) (map[string]bool, error) {
	t.mu.Lock()
	set, ok := t.lists[repo]
	t.mu.Unlock()
	if ok {
		return set, nil
	}
	tags, err := c.ListTags(ctx, repo)
	if err != nil {
		return nil, err
	}
	set = map[string]bool{}
	for _, tag := range tags {
		if manifest.CosignSubject(tag) != "" {
			set[tag] = true
		}
	}
	t.mu.Lock()
	t.lists[repo] = set
	t.mu.Unlock()
	return set, nil
}

// bundleReferrers lists every image's referrers once, in the order found, for the manifest.
func bundleReferrers(images []*image) []archive.Referrer {
	var out []archive.Referrer
	for _, im := range images {
		for _, r := range im.referrers {
			if !slices.Contains(out, r.Referrer) {
				out = append(out, r.Referrer)
			}
		}
	}
	return out
}

// referrerEntries are the layout index's entries for the referrers, once each: tools that read
// the extracted layout find them there (oras finds a layout's referrers through index.json).
// Each names its subject (io.element.ess.subject); one found under a cosign tag has that tag
// as its ref.name, "server/path:sha256-<hex>.sig".
func referrerEntries(images []*image) []manifest.Descriptor {
	var out []manifest.Descriptor
	seen := map[string]bool{}
	for _, im := range images {
		for _, r := range im.referrers {
			if seen[r.Digest+" "+r.Tag] {
				continue
			}
			seen[r.Digest+" "+r.Tag] = true
			d := manifest.ReferrerDescriptor(r.node.Raw, r.MediaType)
			d.Annotations = map[string]string{"io.element.ess.subject": r.Subject}
			if r.Tag != "" {
				d.Annotations["org.opencontainers.image.ref.name"] = im.group.Source.Repository() + ":" + r.Tag
			}
			out = append(out, d)
		}
	}
	return out
}
