package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// blobJob is one distinct blob and the destination repositories that need it.
type blobJob struct {
	archive.Blob
	repos    []string
	users    []string // container keys, for errors
	external bool     // a delta bundle does not carry it: it must be mounted from from
	from     string   // a repository of the destination that has it already

	mu    sync.Mutex
	moved int64 // bytes counted in the progress
	done  bool  // pushed to every repository already (by the preflight)
}

// blobJobs plans the push of every blob the targets' images and their referrers use: one job
// a digest, with the repositories that need it and the containers that use it, largest first.
func blobJobs(g *graph.Graph, ts []*target) []*blobJob {
	byDigest := map[string]*blobJob{}
	var jobs []*blobJob
	for _, t := range ts {
		for _, d := range t.images[0].Blobs() {
			j, ok := byDigest[d.Digest]
			if !ok {
				rec, external, found := g.Blob(d.Digest)
				if !found { // neither carried nor external: the upload will say so
					rec = archive.Blob{Digest: d.Digest, Size: d.Size, Kind: archive.KindLayer}
				}
				j = &blobJob{Blob: rec, external: external}
				byDigest[d.Digest] = j
				jobs = append(jobs, j)
			}
			j.repos = appendNew(j.repos, t.repo)
			for _, im := range t.images {
				j.users = appendNew(j.users, im.Key())
			}
		}
	}
	sort.SliceStable(jobs, func(i, k int) bool { return jobs[i].Size > jobs[k].Size })
	return jobs
}

// checkBase checks, for a delta bundle, that the destination has every blob the bundle does not
// carry, in a repository the blob can be mounted from (the blob's own repositories first, then
// the others of the bundle and of its base); if any is missing it fails before anything is
// pushed, listing them and the base they come from.
func (r *pushRun) checkBase(ctx context.Context, jobs []*blobJob, repos []string) error {
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

// totalBytes is what a push moves of jobs: the blobs the bundle carries.
func totalBytes(jobs []*blobJob) (total int64) {
	for _, j := range jobs {
		if !j.external {
			total += j.Size
		}
	}
	return total
}

// pushBlobs runs one pool of workers over the distinct blobs, largest first.
func (r *pushRun) pushBlobs(ctx context.Context, jobs []*blobJob) {
	mirror.ForEach(ctx, r.workers, jobs, func(_ int, j *blobJob) {
		if !j.done {
			r.pushBlob(ctx, j)
		}
	})
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
		r.stop.failed(err, repo)
		failed := []string{repo}
		if errors.Is(err, mirror.ErrFromBundle) {
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
		j.progress(r.progress, j.Size)
		*from = repo
		mirror.Observe(r.progress, mirror.Event{Kind: "blob", Phase: "skipped", Repo: repo, Digest: j.Digest, Size: j.Size})
		return nil
	}
	session := ""
	if *from != "" {
		mounted, s, err := r.p.Mount(ctx, repo, j.Digest, *from)
		if err != nil {
			return err
		}
		if mounted {
			r.stats.blobsMounted.Add(1)
			r.stop.passed()
			mirror.Observe(r.progress, mirror.Event{Kind: "blob", Phase: "mounted", Repo: repo, Digest: j.Digest, Size: j.Size})
			return nil
		}
		session = s
	}
	if err := r.upload(ctx, repo, j, session); err != nil {
		return err
	}
	*from = repo
	return nil
}

// upload streams the blob from the bundle, verified, into repo (into session, if the registry
// opened one); a transfer that breaks is started again from the bundle.
func (r *pushRun) upload(ctx context.Context, repo string, j *blobJob, session string) error {
	b := oci.Blob{Digest: j.Digest, Size: j.Size, Sent: func(n int64) { j.progress(r.progress, n) },
		Open: func() (io.ReadCloser, error) { return r.b.OpenBlob(j.Digest) }}
	err := mirror.RetryBlob(ctx, r.c, func(ctx context.Context) error {
		err := r.p.Upload(ctx, repo, b, session)
		session = ""                       // a session is good for one try
		if errors.Is(err, oci.ErrSource) { // the bundle's copy failed: say so, and do not retry
			return fmt.Errorf("%w: %w", mirror.ErrFromBundle, err)
		}
		return err
	})
	if err != nil {
		return err
	}
	r.stats.blobsUploaded.Add(1)
	r.stats.bytesUploaded.Add(j.Size)
	r.stop.passed()
	mirror.Observe(r.progress, mirror.Event{Kind: "blob", Phase: "uploaded", Repo: repo, Digest: j.Digest, Size: j.Size})
	return nil
}

// progress counts n more bytes of the blob as moved, up to its size: uploads that go back,
// or that go to several repositories, never count a byte twice. A delta's external blobs,
// found in the destination, count nothing: the total is what the bundle carries.
func (j *blobJob) progress(p mirror.Progress, n int64) {
	if j.external { // not the bundle's to move: not in the total either
		return
	}
	j.mu.Lock()
	n = min(n, j.Size-j.moved)
	j.moved += n
	j.mu.Unlock()
	p.Add(n)
}

// appendNew appends s to list unless it is there.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
