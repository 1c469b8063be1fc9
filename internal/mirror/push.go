package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PushOptions says where to push.
type PushOptions struct {
	Destination Destination
	Progress    Progress // may be nil
}

// Pushed is the outcome of a push.
type Pushed struct {
	// Images are the bundle's containers as the registry now serves them: Server is the
	// destination host, Path the destination repository, Digest what the registry returned
	// for the tag when read back. Failed images are left out.
	Images []digests.Image
	// Failed lists, per container key, why it was not pushed.
	Failed map[string]error
	Stats  Stats
}

// Stats counts what a push did with blobs and manifests.
type Stats struct {
	BlobsUploaded, BlobsMounted, BlobsSkipped int64
	BytesUploaded                             int64
	ManifestsPushed, ManifestsSkipped         int64
}

// Push pushes every image of the bundle into the destination registry, then reads every tag
// back. Blobs go first, largest first, through one pool of the client's jobs: each blob is
// uploaded once, straight from the bundle and verified as it streams, and mounted into the other
// repositories that need it; blobs the registry has are skipped. Manifests follow, children
// before the index that names them, as the exact bytes of the bundle. An image whose blob or
// manifest failed is reported in Pushed.Failed and the error wraps ErrPartial; the other images
// are pushed all the same.
func Push(ctx context.Context, c *oci.Client, b *archive.Bundle, o PushOptions) (*Pushed, error) {
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	m := b.Manifest()
	ts, err := targets(o.Destination, m.Images)
	if err != nil {
		return nil, err
	}
	if err := loadTrees(ctx, b, ts); err != nil {
		return nil, err
	}
	var repos []string
	for _, t := range ts {
		repos = appendNew(repos, t.repo)
	}
	p, err := c.Pusher(ctx, o.Destination.Host, repos)
	if err != nil {
		return nil, err
	}
	run := &pushRun{c: c, b: b, p: p, progress: o.Progress, blobErr: map[string]error{}}
	jobs := blobJobs(b, ts)
	candidates := repos
	if base := m.Base; base != nil {
		for _, path := range base.Paths {
			candidates = appendNew(candidates, o.Destination.Repo(archive.Image{Path: path}))
		}
	}
	if err := run.preflight(ctx, jobs, candidates); err != nil {
		return nil, err
	}
	run.pushBlobs(ctx, jobs)
	res := &Pushed{Failed: map[string]error{}}
	run.pushManifests(ctx, ts, res)
	res.Stats = run.stats.snapshot()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d containers", ErrPartial, len(res.Failed), len(m.Images))
	}
	return res, nil
}

// loadTrees reads every target's manifest tree from the bundle (verified).
func loadTrees(ctx context.Context, b *archive.Bundle, ts []*target) error {
	fetch := func(ctx context.Context, d descriptor) ([]byte, error) {
		rec, ok := b.Manifest().BlobByDigest(d.Digest)
		if !ok {
			return nil, fmt.Errorf("manifest %s: %w", d.Digest, archive.ErrNotFound)
		}
		if rec.Size != d.Size || rec.MediaType != d.MediaType {
			return nil, fmt.Errorf("manifest %s: bundle has %d bytes of %s, the index says %d bytes of %s", d.Digest, rec.Size, rec.MediaType, d.Size, d.MediaType)
		}
		return b.ReadFile(archive.BlobName(d.Digest))
	}
	trees := map[string]*node{}
	for _, t := range ts {
		if n, ok := trees[t.digest]; ok {
			t.root = n
			continue
		}
		im := t.images[0]
		d := descriptor{MediaType: im.MediaType, Digest: im.Digest, Size: im.Size}
		raw, err := fetch(ctx, d)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		if t.root, err = parseNode(ctx, d, raw, fetch, 0); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		trees[t.digest] = t.root
	}
	return nil
}

type pushRun struct {
	c        *oci.Client
	b        *archive.Bundle
	p        *oci.Pusher
	progress Progress
	stats    counters

	mu      sync.Mutex
	blobErr map[string]error // blobKey(digest, repo) -> why it failed
}

type counters struct {
	blobsUploaded, blobsMounted, blobsSkipped, bytesUploaded atomic.Int64
	manifestsPushed, manifestsSkipped                        atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{BlobsUploaded: c.blobsUploaded.Load(), BlobsMounted: c.blobsMounted.Load(),
		BlobsSkipped: c.blobsSkipped.Load(), BytesUploaded: c.bytesUploaded.Load(),
		ManifestsPushed: c.manifestsPushed.Load(), ManifestsSkipped: c.manifestsSkipped.Load()}
}

// blobJob is one distinct blob and the destination repositories that need it.
type blobJob struct {
	archive.Blob
	repos    []string
	users    []string // container keys, for errors
	external bool     // a delta bundle does not carry it: it must be mounted from from
	from     string   // a repository of the destination that has it already
}

func blobJobs(b *archive.Bundle, ts []*target) []*blobJob {
	byDigest := map[string]*blobJob{}
	var jobs []*blobJob
	for _, t := range ts {
		t.root.walk(func(n *node) {
			for _, d := range n.blobs {
				j, ok := byDigest[d.Digest]
				if !ok {
					rec, ok := b.Manifest().BlobByDigest(d.Digest)
					j = &blobJob{Blob: rec}
					if !ok {
						rec, j.external = b.Manifest().ExternalBlob(d.Digest)
						j.Blob = rec
					}
					if rec.Digest == "" { // neither carried nor external: the upload will say so
						j.Blob = archive.Blob{Digest: d.Digest, Size: d.Size, Kind: archive.KindLayer}
					}
					byDigest[d.Digest] = j
					jobs = append(jobs, j)
				}
				if !contains(j.repos, t.repo) {
					j.repos = append(j.repos, t.repo)
				}
				for _, im := range t.images {
					if !contains(j.users, im.Key()) {
						j.users = append(j.users, im.Key())
					}
				}
			}
		})
	}
	sort.SliceStable(jobs, func(i, k int) bool { return jobs[i].Size > jobs[k].Size })
	return jobs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// preflight checks, for a delta bundle, that the destination has every blob the bundle does not
// carry, in a repository the blob can be mounted from (the blob's own repositories first, then
// the others of the bundle and of its base); if any is missing it fails before anything is
// pushed, listing them and the base they come from.
func (r *pushRun) preflight(ctx context.Context, jobs []*blobJob, repos []string) error {
	var missing []string
	for _, j := range jobs {
		if !j.external {
			continue
		}
		for _, repo := range append(append([]string{}, j.repos...), repos...) {
			ok, err := r.p.BlobExists(ctx, repo, j.Digest)
			if err != nil {
				return err
			}
			if ok {
				j.from = repo
				break
			}
		}
		if j.from == "" {
			missing = append(missing, fmt.Sprintf("%s (%s, %s of %s)", j.Digest, progressBytes(j.Size), j.Kind, strings.Join(j.users, ", ")))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	base := r.b.Manifest().Base
	return fmt.Errorf("%w: %s %s (sha256 %s) must be pushed to %s first; %d blobs it relies on are not there:\n  %s",
		ErrBaseMissing, base.Kind, base.Name, strings.TrimPrefix(base.Digest, "sha256:"), r.p.Host(), len(missing), strings.Join(missing, "\n  "))
}

// progressBytes formats a size in MiB for messages.
func progressBytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// pushBlobs runs one pool of workers over the distinct blobs, largest first.
func (r *pushRun) pushBlobs(ctx context.Context, jobs []*blobJob) {
	var total int64
	for _, j := range jobs {
		if !j.external {
			total += j.Size
		}
	}
	r.progress.SetTotal(total)
	ch := make(chan *blobJob)
	var wg sync.WaitGroup
	for range r.c.Jobs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				r.pushBlob(ctx, j)
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
}

// pushBlob makes one blob present in every repository that needs it: skipped where present,
// uploaded once, mounted elsewhere. A repository that fails is recorded and the others go on,
// unless the bundle's copy of the blob is bad, which fails them all.
func (r *pushRun) pushBlob(ctx context.Context, j *blobJob) {
	from := j.from
	for i, repo := range j.repos {
		err := r.pushBlobTo(ctx, repo, j, &from)
		if err == nil {
			continue
		}
		failed := []string{repo}
		if errors.Is(err, errFromBundle) {
			failed = j.repos[i:]
		}
		r.mu.Lock()
		for _, fr := range failed {
			r.blobErr[blobKey(j.Digest, fr)] = fmt.Errorf("blob %s (%s of %s): %w", j.Digest, j.Kind, strings.Join(j.users, ", "), err)
		}
		r.mu.Unlock()
		if len(failed) > 1 {
			return
		}
	}
}

func blobKey(digest, repo string) string { return digest + " " + repo }

func (r *pushRun) pushBlobTo(ctx context.Context, repo string, j *blobJob, from *string) error {
	ok, err := r.p.BlobExists(ctx, repo, j.Digest)
	if err != nil {
		return err
	}
	if ok {
		r.stats.blobsSkipped.Add(1)
		if *from == "" {
			r.progress.Add(j.Size)
		}
		*from = repo
		return nil
	}
	if *from != "" {
		mounted, err := r.p.Mount(ctx, repo, j.Digest, *from)
		if err != nil {
			return err
		}
		if mounted {
			r.stats.blobsMounted.Add(1)
			return nil
		}
	}
	if err := r.upload(ctx, repo, j); err != nil {
		return err
	}
	*from = repo
	return nil
}

// upload streams the blob from the bundle, verified, into repo; a transfer that breaks is
// started again from the bundle.
func (r *pushRun) upload(ctx context.Context, repo string, j *blobJob) error {
	if err := retryBlob(ctx, func() error { return r.uploadOnce(ctx, repo, j) }); err != nil {
		return err
	}
	r.stats.blobsUploaded.Add(1)
	r.stats.bytesUploaded.Add(j.Size)
	return nil
}

func (r *pushRun) uploadOnce(ctx context.Context, repo string, j *blobJob) error {
	rc, err := r.b.OpenBlob(j.Digest)
	if err != nil {
		return fmt.Errorf("%w: %w", errFromBundle, err)
	}
	body := &guardedReader{r: rc, p: r.progress}
	err = r.p.Upload(ctx, repo, j.Digest, j.Size, body)
	// The HTTP client may still be reading the body when an upload fails early: wait for it,
	// and stop it, before the bundle reader goes back to its pool.
	n, readErr := body.close()
	rc.Close()
	if err == nil {
		return nil
	}
	r.progress.Add(-n)  // the retry counts again
	if readErr != nil { // the bundle's copy failed verification: say so, and do not retry
		return fmt.Errorf("%w: %w (upload stopped: %v)", errFromBundle, readErr, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) && oci.TransientStatus(terr.StatusCode) {
		return fmt.Errorf("%w: %w", errUploadAnswer, err)
	}
	return err
}

// guardedReader hands an upload body to the HTTP client and takes it back: close waits for a
// read in flight and makes later reads fail, and reports the reader's own error, if any.
type guardedReader struct {
	mu     sync.Mutex
	r      io.Reader
	p      Progress
	n      int64
	err    error
	closed bool
}

var errUploadEnded = errors.New("upload ended")

func (g *guardedReader) Read(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errUploadEnded
	}
	n, err := g.r.Read(b)
	g.n += int64(n)
	g.p.Add(int64(n))
	if err != nil && err != io.EOF {
		g.err = err
	}
	return n, err
}

func (g *guardedReader) close() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.n, g.err
}

// pushManifests pushes every target's manifests, children first, then reads its tag back.
func (r *pushRun) pushManifests(ctx context.Context, ts []*target, res *Pushed) {
	r.forTargets(ts, res, func(t *target) (string, error) { return r.pushTarget(ctx, t) })
}

// forTargets runs fn for every target, the client's jobs at a time, and records the outcome of
// each of its containers in res.
func (r *pushRun) forTargets(ts []*target, res *Pushed, fn func(*target) (string, error)) {
	var mu sync.Mutex
	sem := make(chan struct{}, r.c.Jobs())
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			digest, err := fn(t)
			mu.Lock()
			defer mu.Unlock()
			for _, im := range t.images {
				if err != nil {
					res.Failed[im.Key()] = fmt.Errorf("%s: %w", t, err)
					continue
				}
				res.Images = append(res.Images, digests.Image{Component: im.Component, Container: im.Container,
					Server: r.p.Host(), Path: t.repo, Tag: im.Tag, Digest: digest})
			}
		}()
	}
	wg.Wait()
	sort.Slice(res.Images, func(i, k int) bool { return res.Images[i].Key() < res.Images[k].Key() })
}

// pushTarget pushes one image's manifests and returns the digest the registry serves for it.
func (r *pushRun) pushTarget(ctx context.Context, t *target) (string, error) {
	var failed []error
	r.mu.Lock()
	t.root.walk(func(n *node) {
		for _, d := range n.blobs {
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
	var err error
	t.root.walk(func(n *node) {
		if err != nil || n == t.root {
			return
		}
		err = r.putManifest(ctx, t.repo, n.desc.Digest, n)
	})
	if err != nil {
		return "", err
	}
	ref := t.tag
	if ref == "" {
		ref = t.digest
	}
	if err := r.p.PutManifest(ctx, t.repo, ref, t.root.raw, t.root.desc.MediaType); err != nil {
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
// digest than the bundle's is reported in Failed, and the error wraps ErrPartial.
func ReadBack(ctx context.Context, c *oci.Client, b *archive.Bundle, d Destination) (*Pushed, error) {
	ts, err := targets(d, b.Manifest().Images)
	if err != nil {
		return nil, err
	}
	repos := make([]string, 0, len(ts))
	for _, t := range ts {
		repos = append(repos, t.repo)
	}
	p, err := c.Pusher(ctx, d.Host, repos)
	if err != nil {
		return nil, err
	}
	r := &pushRun{c: c, b: b, p: p}
	res := &Pushed{Failed: map[string]error{}}
	r.forTargets(ts, res, func(t *target) (string, error) { return r.readBack(ctx, t) })
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d containers", ErrPartial, len(res.Failed), len(b.Manifest().Images))
	}
	return res, nil
}

// putManifest pushes a child manifest by digest unless the repository has it.
func (r *pushRun) putManifest(ctx context.Context, repo, ref string, n *node) error {
	ok, err := r.p.ManifestExists(ctx, repo, n.desc.Digest)
	if err != nil {
		return err
	}
	if ok {
		r.stats.manifestsSkipped.Add(1)
		return nil
	}
	if err := r.p.PutManifest(ctx, repo, ref, n.raw, n.desc.MediaType); err != nil {
		return err
	}
	r.stats.manifestsPushed.Add(1)
	return nil
}

// BlobUsers maps every blob digest of the bundle (manifests included) to the containers that
// use it, from the manifests in the bundle.
func BlobUsers(ctx context.Context, b *archive.Bundle) (map[string][]string, error) {
	ts, err := targets(Destination{}, b.Manifest().Images)
	if err != nil {
		return nil, err
	}
	if err := loadTrees(ctx, b, ts); err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, t := range ts {
		t.root.walk(func(n *node) {
			for _, d := range append([]descriptor{n.desc}, n.blobs...) {
				for _, im := range t.images {
					if !contains(users[d.Digest], im.Key()) {
						users[d.Digest] = append(users[d.Digest], im.Key())
					}
				}
			}
		})
	}
	return users, nil
}
