package create

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
)

// CreateOptions says what to bundle and where.
type CreateOptions struct {
	List        *digests.List // the selected images; may be nil when Chart or Extra is set
	ListContent []byte        // the image list file as given, recorded in the manifest
	// Extra are images given one by one (bundle create --image: digests.ParseExtra), carried
	// as entries of the list.
	Extra   []digests.Image
	Include []string
	Exclude []string
	Output  string // NAME.tar.zst
	// Created is recorded, and is the mtime of every tar entry. Zero: the creation time of the
	// unfinished bundle a stopped run left (so that the rerun lays the file out the same way
	// and resumes it in place), else now.
	Created time.Time
	Tool    string // "bundle vX.Y.Z"
	// Jobs is how many blobs are pulled at once (mirror.DefaultJobs when 0); manifests, configs and
	// referrers are read 4 times as many at once.
	Jobs     int
	Cache    string          // a cache directory of pulled blobs kept across runs; "" for none
	Progress mirror.Progress // may be nil
	// Platforms, when set, keeps only these platforms of every index (see filterPlatforms).
	Platforms []manifest.Platform
	// Base and Have make a delta bundle: layers for which Have is true are not carried, and
	// the bundle names Base as what it needs.
	Base *archive.Base
	Have func(digest string) bool
	// DryRun resolves every image and returns the plan (Created.Plan) without pulling layers
	// or writing the bundle.
	DryRun bool
	// Charts are carried too (each artifact as it is), with every image of their blocks.
	Charts []*Chart
	// AllowPartial writes the bundle even when some images could not be pulled: its manifest
	// lists them (archive.Manifest.Missing). Without it such a run writes no bundle and keeps
	// NAME.tar.zst.partial, with every layer of the images that were pulled, for the rerun.
	AllowPartial bool
	// PartSize, when set, writes the bundle in parts of that many bytes, with Parity parity
	// parts (archive.WithParts).
	PartSize int64
	Parity   int
	// Referrers carries what refers to every image's manifests and indexes (signatures,
	// attestations, SBOMs: see findReferrers); ReferrerTypes, when set, only those of these
	// artifact types.
	Referrers     bool
	ReferrerTypes []string
	// Provenance, when set, checks every image's signatures (found as referrers: set
	// Referrers too) against a policy; an image the policy refuses is left out and failed.
	Provenance *Provenance
	// Files are plain files carried after the layers (archive.Manifest.Files).
	Files []File
}

// sources is every image to resolve: the list's and the extra images, then the chart's
// blocks'. A key given twice is refused.
func (o CreateOptions) sources() ([]digests.Image, error) {
	list, err := digests.AddExtra(o.List, o.Extra)
	if err != nil {
		return nil, err
	}
	all := list.Images
	keys := map[string]string{}
	for _, im := range all {
		keys[im.Key()] = "an entry of the image list"
	}
	for _, ch := range o.Charts {
		if w, ok := keys[ch.Source.Key()]; ok {
			return nil, fmt.Errorf("chart %s: %s is %s too: two charts of one name cannot share a bundle", ch.Ref, ch.Source.Key(), w)
		}
		keys[ch.Source.Key()] = "chart " + ch.Ref
		for _, im := range ch.Images() {
			if w, ok := keys[im.Key()]; ok {
				return nil, fmt.Errorf("%s is both %s and an image block of chart %s", im.Key(), w, ch.Ref)
			}
			keys[im.Key()] = "an image block of chart " + ch.Ref
			all = append(all, im)
		}
	}
	return all, nil
}

// Plan is what a run would move: the bundle's blobs, and how many of their bytes are to pull.
type Plan struct {
	Blobs, Cached, External  int
	Bytes, CachedBytes, Pull int64
	ExternalBytes            int64
}

// Created is what Create made.
type Created struct {
	Manifest *archive.Manifest
	SHA256   string
	Plan     Plan // what the run had to move, counted before it started
	// Failed lists, per container key, the images that could not be resolved and were left out
	// of the bundle; Create then returns an error wrapping mirror.ErrPartial.
	Failed map[string]error
	// Kept is what was recovered, verified, from the unfinished bundle a stopped run left.
	Kept Kept
	// Unfinished is true when images failed and no bundle was written (no AllowPartial):
	// NAME.tar.zst.partial holds every layer pulled, for the rerun.
	Unfinished bool
	// Skipped lists the referrers found and not carried (--referrers), and why.
	Skipped []Skipped
	// Provenance is the verdict on each image carried, with Provenance set.
	Provenance []provenance.Result
}

// Kept counts the layers a run recovered from an unfinished earlier one instead of pulling them
// (Blobs, Bytes: of those, Checked were checked against the stopped run's checkpoint without
// hashing them, Verified read and hashed in full), and the half-written layers it took up
// where they stopped (Taken, of which TakenBytes were written already).
type Kept struct {
	Blobs             int
	Bytes             int64
	Checked, Verified int
	Taken             int
	TakenBytes        int64
}

// image is one distinct source image and what was pulled for it.
type image struct {
	group     digests.Group
	ref       string // what was fetched: repo@digest when the list pins one, else repo:tag
	root      *manifest.Node
	upstream  string      // the digest upstream serves, when root was filtered to some platforms
	referrers []*referrer // what refers to root's manifests, and to those (--referrers)
}

// blob is one distinct blob of the bundle and where to pull it from.
type blob struct {
	archive.Blob
	repo string // source repository "server/path"
	data []byte // manifests, indexes and configs are kept in memory
}

// Create pulls every image of the list and writes the bundle. Manifests are resolved first
// (in parallel, 4x o.Jobs at once), so the bundle manifest at the head of the file
// lists every blob; then blobs are streamed from the registries into the file, verified.
func Create(ctx context.Context, c *oci.Client, o CreateOptions) (*Created, error) {
	if o.Progress == nil {
		o.Progress = mirror.NoProgress{}
	}
	sources, err := o.sources()
	if err != nil {
		return nil, err
	}
	r := &creation{o: o, c: c, sources: sources}
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	if len(r.images) == 0 {
		return &Created{Failed: r.failed}, mirror.FailedError(fmt.Errorf("%w: no image could be pulled (%d containers failed)", ErrNothing, len(r.failed)), r.failed)
	}
	if err := r.describe(ctx); err != nil {
		return nil, err
	}
	if o.DryRun {
		res := &Created{Manifest: r.m, Failed: r.failed, Plan: plan(r.blobs, r.external, o.Cache), Skipped: r.skipped, Provenance: r.verdicts}
		if len(r.failed) > 0 {
			return res, mirror.FailedError(fmt.Errorf("%w: %d of %d containers could not be resolved", mirror.ErrPartial, len(r.failed), len(sources)), r.failed)
		}
		return res, nil
	}
	return r.write(ctx)
}

// creation is one run of Create: what it resolved, and the bundle it describes.
type creation struct {
	o        CreateOptions
	c        *oci.Client
	sources  []digests.Image
	images   []*image
	failed   map[string]error // by container key
	skipped  []Skipped
	verdicts []provenance.Result
	blobs    []*blob
	external []archive.Blob // left out: the base has them
	m        *archive.Manifest
	layout   []byte // the oci-layout file
	index    []byte // index.json
}

// resolve resolves every source image, then finds their referrers and checks their
// provenance when asked; the charts' artifacts come first among the images.
func (r *creation) resolve(ctx context.Context) error {
	o := r.o
	held := newHeldBytes()
	r.images, r.failed = resolve(ctx, r.c, o.Jobs, (&digests.List{Images: r.sources}).Groups(), o.Platforms, held)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, im := range r.images {
		mirror.Observe(o.Progress, mirror.Event{Kind: "image", Phase: "resolved", Container: memberKeys(im.group), Ref: im.group.Source.Ref(), Digest: im.root.Desc.Digest})
	}
	for _, k := range slices.Sorted(maps.Keys(r.failed)) {
		mirror.Observe(o.Progress, mirror.Event{Kind: "image", Phase: "failed", Container: k, Err: r.failed[k]})
	}
	if o.Referrers {
		var refFailed map[string]error
		r.images, refFailed, r.skipped = findReferrers(ctx, r.c, o.Jobs, r.images, o.ReferrerTypes, held)
		if err := ctx.Err(); err != nil {
			return err
		}
		maps.Copy(r.failed, refFailed)
	}
	if o.Provenance != nil {
		var refused map[string]error
		r.images, refused, r.verdicts = checkProvenance(ctx, r.c, o.Jobs, r.images, o.Provenance)
		if err := ctx.Err(); err != nil {
			return err
		}
		maps.Copy(r.failed, refused)
	}
	var chartImages []*image
	for _, ch := range o.Charts {
		chartImages = append(chartImages, ch.image())
	}
	r.images = append(chartImages, r.images...)
	return nil
}
