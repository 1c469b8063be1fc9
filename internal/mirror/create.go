package mirror

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Progress receives byte counts. Implementations must be safe for concurrent use and cheap.
type Progress interface {
	SetTotal(bytes int64)
	Add(bytes int64)
}

type noProgress struct{}

func (noProgress) SetTotal(int64) {}
func (noProgress) Add(int64)      {}

// CreateOptions says what to bundle and where.
type CreateOptions struct {
	List        *digests.List // the selected images
	ListContent []byte        // the image list file as given, recorded in the manifest
	Include     []string
	Exclude     []string
	Output      string    // NAME.tar.zst
	Created     time.Time // recorded, and the mtime of every tar entry
	Tool        string    // "bundle vX.Y.Z"
	Cache       string    // a cache directory kept across runs; "" uses OUTPUT.cache, removed on success
	Progress    Progress  // may be nil
	// Platforms, when set, keeps only these platforms of every index (see filterPlatforms).
	Platforms []Platform
	// Base and Have make a delta bundle: layers for which Have is true are not carried, and
	// the bundle names Base as what it needs.
	Base *archive.Base
	Have func(digest string) bool
	// DryRun resolves every image and returns the plan (Created.Plan) without pulling layers
	// or writing the bundle.
	DryRun bool
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
	Plan     Plan
	// Failed lists, per container key, the images that could not be resolved and were left out
	// of the bundle; Create then returns an error wrapping ErrPartial.
	Failed map[string]error
}

// image is one distinct source image and what was pulled for it.
type image struct {
	group    digests.Group
	ref      string // what was fetched: repo@digest when the list pins one, else repo:tag
	root     *node
	upstream string // the digest upstream serves, when root was filtered to some platforms
}

// blob is one distinct blob of the bundle and where to pull it from.
type blob struct {
	archive.Blob
	repo string // source repository "server/path"
	data []byte // manifests, indexes and configs are kept in memory
}

// Create pulls every image of the list and writes the bundle. Manifests are resolved first
// (in parallel, through the client's one limiter), so the bundle manifest at the head of the file
// lists every blob; then blobs are streamed from the registries into the file, verified.
func Create(ctx context.Context, c *oci.Client, o CreateOptions) (*Created, error) {
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	images, failed := resolve(ctx, c, o.List.Groups(), o.Platforms)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return &Created{Failed: failed}, fmt.Errorf("no image could be resolved (%d failed)", len(failed))
	}
	blobs, external, err := collect(ctx, c, images, o.Have)
	if err != nil {
		return nil, err
	}
	m, layout, index := describeBundle(o, images, blobs)
	m.Base, m.External = o.Base, external
	o.Progress.SetTotal(m.Totals.BlobBytes)

	dir := o.Cache
	if dir == "" {
		dir = o.Output + ".cache"
	}
	if o.DryRun {
		res := &Created{Manifest: m, Failed: failed, Plan: plan(blobs, external, dir)}
		if len(failed) > 0 {
			return res, fmt.Errorf("%w: %d of %d containers could not be resolved", ErrPartial, len(failed), len(o.List.Images))
		}
		return res, nil
	}
	cache, err := cache.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := salvage(o.Output+".partial", cache); err != nil {
		return nil, err
	}
	w, err := archive.Create(o.Output, o.Created)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{archive.ManifestName, mj}, {archive.LayoutName, layout}, {archive.IndexName, index}} {
		if err := addBytes(w, f.name, f.data); err != nil {
			return nil, err
		}
	}
	var remote []*blob
	for _, b := range blobs {
		if b.data != nil {
			if err := addBytes(w, archive.BlobName(b.Digest), b.data); err != nil {
				return nil, err
			}
			o.Progress.Add(b.Size)
		} else {
			remote = append(remote, b)
		}
	}
	if err := pack(ctx, c, w, cache, remote, o.Cache != "", o.Progress); err != nil {
		return nil, err
	}
	sum, err := w.Commit()
	if err != nil {
		return nil, err
	}
	if o.Cache == "" {
		cache.RemoveAll()
	}
	res := &Created{Manifest: m, SHA256: sum, Failed: failed}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d containers left out of the bundle", ErrPartial, len(failed), len(o.List.Images))
	}
	return res, nil
}

// pack pulls blobs in parallel (the client's jobs at a time) into the cache, each verified and
// encoded as the frame the bundle stores, and appends them to the bundle in order as they
// complete, at most a few blobs behind the pulls. Blobs already in the cache are not pulled.
// Unless keep is set, a blob leaves the cache once appended: a run killed after that finds it
// in the unfinished bundle instead (see salvage), so the extra disk stays a few blobs.
func pack(ctx context.Context, c *oci.Client, w *archive.Writer, cache *cache.Dir, blobs []*blob, keep bool, p Progress) error {
	ctx, cancel := context.WithCancel(ctx)
	jobs := c.Jobs()
	ready := make([]chan error, len(blobs))
	for i := range ready {
		ready[i] = make(chan error, 1)
	}
	ahead := make(chan struct{}, 2*jobs) // blobs pulled but not yet appended
	work := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := archive.NewEncoder()
			for i := range work {
				if err == nil {
					err = fetch(ctx, c, cache, enc, blobs[i], p)
				}
				ready[i] <- err
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range blobs {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }() // cancel first: it frees the dispatcher, which closes work
	for i, b := range blobs {
		var err error
		select {
		case err = <-ready[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err == nil {
			err = appendCached(w, cache, b)
		}
		if err != nil {
			return fmt.Errorf("blob %s (%s) of %s: %w", b.Digest, b.Kind, b.repo, err)
		}
		if !keep {
			cache.Remove(b.Digest)
		}
		<-ahead
	}
	return nil
}

// fetch pulls one blob into the cache, unless a verified copy is there already. A transfer
// that breaks is started again.
func fetch(ctx context.Context, c *oci.Client, cache *cache.Dir, enc *archive.Encoder, b *blob, p Progress) error {
	if cache.Has(b.Digest) {
		if err := checkCached(cache, b); err == nil {
			p.Add(b.Size)
			return nil
		}
		cache.Remove(b.Digest) // damaged (a crash, a full disk): pull it again
	}
	return retryBlob(ctx, func() error {
		rc, err := c.OpenBlob(ctx, b.repo, b.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		cr := &countReader{r: rc, p: p}
		err = cache.Put(b.Digest, func(dst io.Writer) error {
			bw := bufio.NewWriterSize(dst, 256<<10)
			if _, err := enc.EncodeData(bw, b.Size, cr); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			p.Add(-cr.n)
		}
		return err
	})
}

// plan counts what a run would pull: the blobs not in memory already and not in the cache dir
// (looked at without creating it).
func plan(blobs []*blob, external []archive.Blob, dir string) Plan {
	var p Plan
	for _, b := range blobs {
		p.Blobs++
		p.Bytes += b.Size
		if b.data != nil {
			continue
		}
		if cache.Exists(dir, b.Digest) {
			p.Cached++
			p.CachedBytes += b.Size
			continue
		}
		p.Pull += b.Size
	}
	for _, b := range external {
		p.External++
		p.ExternalBytes += b.Size
	}
	return p
}

// salvage moves the blobs a killed run had already written into its unfinished bundle back
// into the cache, where fetch verifies them before use, so the rerun does not pull them again.
func salvage(partial string, c *cache.Dir) error {
	err := archive.Salvage(partial, func(digest string, size int64, frame io.Reader) error {
		if c.Has(digest) {
			return nil
		}
		return c.Put(digest, func(w io.Writer) error {
			_, err := io.Copy(w, frame)
			return err
		})
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// checkCached verifies a cache entry this process did not write.
func checkCached(cache *cache.Dir, b *blob) error {
	f, err := cache.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	return archive.CheckData(bufio.NewReaderSize(f, 256<<10), b.Digest, b.Size)
}

func appendCached(w *archive.Writer, cache *cache.Dir, b *blob) error {
	f, err := cache.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	return w.AddEncoded(archive.BlobName(b.Digest), b.Digest, b.Size, f)
}

func addBytes(w *archive.Writer, name string, data []byte) error {
	d := verify.Digest(data)
	return w.Add(name, d, int64(len(data)), verify.NewReader(bytes.NewReader(data), d, int64(len(data))))
}

type countReader struct {
	r io.Reader
	p Progress
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	c.n += int64(n)
	return n, err
}

// resolve fetches every distinct image's manifest tree, in parallel. It returns the images
// that resolved, in order, and why the others did not, per container key.
func resolve(ctx context.Context, c *oci.Client, groups []digests.Group, platforms []Platform) ([]*image, map[string]error) {
	images := make([]*image, len(groups))
	errs := make([]error, len(groups))
	sem := make(chan struct{}, c.Jobs())
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = retryBlob(ctx, func() error {
				var err error
				images[i], err = resolveOne(ctx, c, g, platforms)
				return err
			})
		}()
	}
	wg.Wait()
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

func resolveOne(ctx context.Context, c *oci.Client, g digests.Group, platforms []Platform) (*image, error) {
	src := g.Source
	im := &image{group: g, ref: src.Ref()}
	if src.Digest != "" {
		im.ref = src.Repository() + "@" + src.Digest
	}
	fail := func(err error) (*image, error) {
		return nil, fmt.Errorf("%s (%s): %w", memberKeys(g), src.Ref(), err)
	}
	m, err := c.GetManifest(ctx, im.ref)
	if err != nil {
		return fail(err)
	}
	root := descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
	fetch := func(ctx context.Context, d descriptor) ([]byte, error) {
		cm, err := c.GetManifest(ctx, src.Repository()+"@"+d.Digest)
		if err != nil {
			return nil, err
		}
		if int64(len(cm.Raw)) != d.Size || cm.MediaType != d.MediaType {
			return nil, fmt.Errorf("manifest %s: served %d bytes as %s, the index says %d bytes of %s", d.Digest, len(cm.Raw), cm.MediaType, d.Size, d.MediaType)
		}
		return cm.Raw, nil
	}
	if im.root, err = parseNode(ctx, root, m.Raw, fetch, 0); err != nil {
		return fail(err)
	}
	if len(platforms) == 0 {
		return im, nil
	}
	if isManifest(im.root.desc.MediaType) {
		if err := checkPlatform(ctx, c, src.Repository(), im.root, platforms); err != nil {
			return fail(err)
		}
		return im, nil
	}
	filtered, err := filterPlatforms(im.root, platforms)
	if err != nil {
		return fail(err)
	}
	if filtered.desc.Digest != im.root.desc.Digest {
		im.upstream = im.root.desc.Digest
	}
	im.root = filtered
	return im, nil
}

// checkPlatform checks that a single-platform image is of one of the platforms asked for.
func checkPlatform(ctx context.Context, c *oci.Client, repo string, n *node, want []Platform) error {
	cfg := n.blobs[0]
	var data []byte
	err := retryBlob(ctx, func() error {
		rc, err := c.OpenBlob(ctx, repo, cfg.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = io.ReadAll(verify.NewReader(rc, cfg.Digest, cfg.Size))
		return err
	})
	if err != nil {
		return fmt.Errorf("config %s: %w", cfg.Digest, err)
	}
	var p platform
	json.Unmarshal(data, &p)
	for _, w := range want {
		if w.matches(&p) {
			return nil
		}
	}
	return fmt.Errorf("%w: the image is %s only, not %s", ErrPlatform, p.String(), platformList(want))
}

func platformList(ps []Platform) string {
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
// layers, each in order of first appearance. Configs are fetched into memory. Layers for which
// have is true are returned apart, as external: a delta bundle does not carry them.
func collect(ctx context.Context, c *oci.Client, images []*image, have func(string) bool) ([]*blob, []archive.Blob, error) {
	seen := map[string]bool{}
	var metas, configs, layers []*blob
	var external []archive.Blob
	for _, im := range images {
		repo := im.group.Source.Repository()
		im.root.walk(func(n *node) {
			if !seen[n.desc.Digest] {
				seen[n.desc.Digest] = true
				kind := archive.KindManifest
				if isIndex(n.desc.MediaType) {
					kind = archive.KindIndex
				}
				metas = append(metas, &blob{Blob: archive.Blob{Digest: n.desc.Digest, Size: n.desc.Size, MediaType: n.desc.MediaType, Kind: kind}, repo: repo, data: n.raw})
			}
			for i, d := range n.blobs {
				if seen[d.Digest] {
					continue
				}
				seen[d.Digest] = true
				b := &blob{Blob: archive.Blob{Digest: d.Digest, Size: d.Size, MediaType: d.MediaType, Kind: archive.KindLayer}, repo: repo}
				switch {
				case i == 0:
					b.Kind = archive.KindConfig
					configs = append(configs, b)
				case have != nil && have(d.Digest):
					external = append(external, b.Blob)
				default:
					layers = append(layers, b)
				}
			}
		})
	}
	for _, b := range configs {
		if b.Size > 16<<20 {
			return nil, nil, fmt.Errorf("config %s of %s: %d bytes is too large for a config", b.Digest, b.repo, b.Size)
		}
		err := retryBlob(ctx, func() error {
			rc, err := c.OpenBlob(ctx, b.repo, b.Digest)
			if err != nil {
				return err
			}
			defer rc.Close()
			b.data, err = io.ReadAll(verify.NewReader(rc, b.Digest, b.Size))
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("config %s of %s: %w", b.Digest, b.repo, err)
		}
	}
	// Largest layers first: the parallel pulls finish sooner, and the push reads in that order.
	sort.SliceStable(layers, func(i, j int) bool { return layers[i].Size > layers[j].Size })
	return append(append(metas, configs...), layers...), external, nil
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
		Tool: o.Tool, Created: o.Created.UTC().Truncate(time.Second),
		Source: archive.Source{Name: o.List.File, Digest: verify.Digest(o.ListContent), Content: string(o.ListContent),
			Include: o.Include, Exclude: o.Exclude}}
	idx := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: ociIndex, Manifests: []descriptor{}}
	for _, im := range images {
		d := im.root.desc
		plats := im.root.platforms()
		if isManifest(d.MediaType) {
			if p := configPlatform(configs[im.root.blobs[0].Digest]); p != "" {
				plats = []string{p}
			}
		}
		for _, mem := range im.group.Members {
			m.Images = append(m.Images, archive.Image{Component: mem.Component, Container: mem.Container,
				Server: mem.Server, Path: mem.Path, Tag: mem.Tag, ListedDigest: mem.Digest,
				Digest: d.Digest, UpstreamDigest: im.upstream, MediaType: d.MediaType, Size: d.Size, Platforms: plats})
		}
		d.Annotations = map[string]string{
			"org.opencontainers.image.ref.name": im.group.Source.Ref(),
			"io.element.ess.containers":         memberKeys(im.group),
		}
		idx.Manifests = append(idx.Manifests, d)
	}
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

// configPlatform reads os/architecture[/variant] from an image config.
func configPlatform(cfg []byte) string {
	var p platform
	if json.Unmarshal(cfg, &p) != nil || p.OS == "" {
		return ""
	}
	return p.String()
}
