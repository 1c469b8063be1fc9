package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

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
