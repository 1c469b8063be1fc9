package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
	"github.com/element-hq/ess-airgap/internal/verify"
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
	// Jobs is how many blobs are pulled at once (DefaultJobs when 0); manifests, configs and
	// referrers are read 4 times as many at once.
	Jobs     int
	Cache    string   // a cache directory of pulled blobs kept across runs; "" for none
	Progress Progress // may be nil
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
	// of the bundle; Create then returns an error wrapping ErrPartial.
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
		o.Progress = noProgress{}
	}
	sources, err := o.sources()
	if err != nil {
		return nil, err
	}
	held := newHeldBytes()
	images, failed := resolve(ctx, c, o.Jobs, (&digests.List{Images: sources}).Groups(), o.Platforms, held)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, im := range images {
		observe(o.Progress, Event{Kind: "image", Phase: "resolved", Container: memberKeys(im.group), Ref: im.group.Source.Ref(), Digest: im.root.Desc.Digest})
	}
	for _, k := range slices.Sorted(maps.Keys(failed)) {
		observe(o.Progress, Event{Kind: "image", Phase: "failed", Container: k, Err: failed[k]})
	}
	var skipped []Skipped
	if o.Referrers {
		var refFailed map[string]error
		images, refFailed, skipped = findReferrers(ctx, c, o.Jobs, images, o.ReferrerTypes, held)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		maps.Copy(failed, refFailed)
	}
	var verdicts []provenance.Result
	if o.Provenance != nil {
		var refused map[string]error
		images, refused, verdicts = checkProvenance(ctx, c, o.Jobs, images, o.Provenance)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		maps.Copy(failed, refused)
	}
	var chartImages []*image
	for _, ch := range o.Charts {
		chartImages = append(chartImages, ch.image())
	}
	images = append(chartImages, images...)
	if len(images) == 0 {
		return &Created{Failed: failed}, failedError(fmt.Errorf("%w: no image could be pulled (%d containers failed)", ErrNothing, len(failed)), failed)
	}
	blobs, external, err := collect(ctx, c, images, o.Have)
	if err != nil {
		return nil, err
	}
	for _, ch := range o.Charts { // the chart's layers were read already (or made here): carried from memory
		for _, b := range blobs {
			if data, ok := ch.layers[b.Digest]; ok && b.data == nil {
				b.data = data
			}
		}
	}
	if o.Created.IsZero() {
		o.Created = time.Now().UTC()
		if m, ok := archive.Unfinished(o.Output); ok {
			o.Created = m.Created
		}
	}
	m, layout, index := describeBundle(o, images, blobs)
	m.Base, m.External = o.Base, external
	switch len(o.Charts) {
	case 0:
	case 1:
		m.Chart = o.Charts[0].record()
	default:
		for _, ch := range o.Charts {
			m.Charts = append(m.Charts, *ch.record())
		}
	}
	if o.Provenance != nil {
		m.Provenance = o.Provenance.record()
		m.Provenance.Images = provenanceImages(verdicts)
	}
	m.Missing = missing(sources, failed, blockPathsOf(o.Charts))
	if m.Files, err = describeFiles(ctx, o.Files); err != nil {
		return nil, err
	}
	total := m.Totals.BlobBytes
	for _, f := range m.Files {
		total += f.Size
	}
	o.Progress.SetTotal(total)
	if o.DryRun {
		res := &Created{Manifest: m, Failed: failed, Plan: plan(blobs, external, o.Cache), Skipped: skipped, Provenance: verdicts}
		if len(failed) > 0 {
			return res, failedError(fmt.Errorf("%w: %d of %d containers could not be resolved", ErrPartial, len(failed), len(sources)), failed)
		}
		return res, nil
	}
	pl := plan(blobs, external, o.Cache) // before the run fills the cache
	var cached *cache.Dir
	if o.Cache != "" {
		if cached, err = cache.Open(o.Cache); err != nil {
			return nil, err
		}
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	entries := []archive.Entry{inMemory(archive.ManifestName, mj), inMemory(archive.LayoutName, layout), inMemory(archive.IndexName, index)}
	var remote []*blob
	var inMem int64
	for _, b := range blobs {
		if b.data != nil {
			entries = append(entries, inMemory(archive.BlobName(b.Digest), b.data))
			inMem += b.Size
		} else {
			entries = append(entries, archive.Entry{Name: archive.BlobName(b.Digest), Digest: b.Digest, Size: b.Size})
			remote = append(remote, b)
		}
	}
	for _, f := range m.Files {
		entries = append(entries, archive.Entry{Name: f.Name, Digest: f.Digest, Size: f.Size, Executable: f.Executable})
	}
	w, err := archive.Create(o.Output, o.Created, entries, archive.WithParts(o.PartSize, o.Parity))
	if err != nil {
		return nil, err
	}
	defer w.Close() // an unfinished bundle stays, for the rerun to resume
	o.Progress.Add(inMem)
	kept, err := pack(ctx, c, o.Jobs, w, cached, remote, o.Progress)
	if err != nil {
		return nil, err
	}
	if err := writeFiles(ctx, w, o.Files, m.Files, o.Progress); err != nil {
		return nil, err
	}
	if len(failed) > 0 && !o.AllowPartial { // the .partial stays, with every layer pulled
		res := &Created{Manifest: m, Failed: failed, Kept: kept, Skipped: skipped, Unfinished: true, Plan: pl}
		return res, failedError(fmt.Errorf("%w: %d of %d containers could not be pulled; no bundle written", ErrPartial, len(failed), len(sources)), failed)
	}
	sum, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	res := &Created{Manifest: m, SHA256: sum, Failed: failed, Kept: kept, Skipped: skipped, Provenance: verdicts, Plan: pl}
	if len(failed) > 0 {
		return res, failedError(fmt.Errorf("%w: %d of %d containers left out of the bundle (--allow-partial)", ErrPartial, len(failed), len(sources)), failed)
	}
	return res, nil
}

// describeBundle makes the bundle manifest, the oci-layout file and index.json.
func describeBundle(o CreateOptions, images []*image, blobs []*blob) (*archive.Manifest, []byte, []byte) {
	configs := map[string][]byte{}
	for _, b := range blobs {
		if b.Kind == archive.KindConfig {
			configs[b.Digest] = b.data
		}
	}
	m := &archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType,
		Tool: o.Tool, Created: o.Created.UTC().Truncate(time.Second)}
	if o.List != nil {
		m.Source = archive.Source{Name: o.List.File, Digest: verify.Digest(o.ListContent), Content: string(o.ListContent),
			Include: o.Include, Exclude: o.Exclude}
	}
	blockPaths := blockPathsOf(o.Charts) // key -> values path, for the charts' blocks
	chartRoots := map[*manifest.Node]bool{}
	for _, ch := range o.Charts {
		chartRoots[ch.root] = true
	}
	idx := struct {
		SchemaVersion int                   `json:"schemaVersion"`
		MediaType     string                `json:"mediaType"`
		Manifests     []manifest.Descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{}}
	for _, im := range images {
		d := im.root.Desc
		plats := im.root.Platforms()
		if manifest.IsManifest(d.MediaType) {
			if p := configPlatform(configs[im.root.Blobs[0].Digest]); p != "" {
				plats = []string{p}
			}
		}
		for _, mem := range im.group.Members {
			m.Images = append(m.Images, archive.Image{Component: mem.Component, Container: mem.Container,
				Server: mem.Server, Path: mem.Path, Tag: mem.Tag, ListedDigest: mem.Digest,
				Digest: d.Digest, UpstreamDigest: im.upstream, MediaType: d.MediaType, Size: d.Size, Platforms: plats,
				ValuesPath: blockPaths[mem.Key()]})
		}
		if chartRoots[im.root] {
			m.Images[len(m.Images)-1].Kind = archive.KindChart
		}
		d.Annotations = map[string]string{
			"org.opencontainers.image.ref.name": im.group.Source.Ref(),
			"io.element.ess.containers":         memberKeys(im.group),
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	m.Referrers = bundleReferrers(images)
	idx.Manifests = append(idx.Manifests, referrerEntries(images)...)
	sort.SliceStable(m.Images, func(i, j int) bool { return m.Images[i].Key() < m.Images[j].Key() })
	for _, b := range blobs {
		m.Blobs = append(m.Blobs, b.Blob)
		m.Totals.BlobBytes += b.Size
	}
	m.Totals.Images, m.Totals.Blobs = len(m.Images), len(m.Blobs)
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index, _ := json.MarshalIndent(idx, "", "  ")
	m.Layout = archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}
	return m, layout, index
}

func inMemory(name string, data []byte) archive.Entry {
	return archive.Entry{Name: name, Digest: verify.Digest(data), Size: int64(len(data)), Data: data}
}

// configPlatform reads os/architecture[/variant] from an image config.
func configPlatform(cfg []byte) string {
	var p manifest.Platform
	if json.Unmarshal(cfg, &p) != nil || p.OS == "" {
		return ""
	}
	return p.String()
}
