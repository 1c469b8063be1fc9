package mirror

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Defaults of the operations' Jobs (CreateOptions, PushOptions, CheckOptions, ReadBack,
// TakeInventory): the command-line flags take them too. The registry client sets no limit of
// its own: each operation runs one pool of its jobs (docs/performance.md says how each
// default was chosen).
const (
	DefaultJobs     = 4 // concurrent blob transfers (bundle create, and the reads of the other commands)
	DefaultPushJobs = 8 // unbundle push's: uploads in flight while the registry commits others
)

// JobsOr is jobs, or DefaultJobs when it is not set (below 1).
func JobsOr(jobs int) int {
	if jobs < 1 {
		return DefaultJobs
	}
	return jobs
}

// MetadataJobs is the concurrency limit of small reads (manifests, configs, referrers) of an
// operation of jobs blob transfers: each is a round trip or two and hardly any bytes, so over a
// site's uplink the limit of the blob transfers would leave the link idle while they wait.
func MetadataJobs(jobs int) int { return 4 * JobsOr(jobs) }

// ForEach runs fn on the items, at most jobs at a time, starting them in the slice's order
// (largest blobs first, where the caller sorted them so). Once ctx is done it starts no more.
// It returns when every fn it started has returned; fn records its own outcome.
func ForEach[T any](ctx context.Context, jobs int, items []T, fn func(i int, item T)) {
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, item := range items {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			fn(i, item)
			return nil
		})
	}
	g.Wait()
}

// ForEachWeighted is ForEach where an item weighs weight(item) quarters of a job (1 to 4): with
// jobs 4, sixteen items of weight 1 run at once, or four of weight 4. Items start in order.
func ForEachWeighted[T any](ctx context.Context, jobs int, items []T, weight func(T) int64, fn func(i int, item T)) {
	sem := semaphore.NewWeighted(4 * int64(jobs))
	var wg sync.WaitGroup
	for i, item := range items {
		w := min(4, max(1, weight(item)))
		if sem.Acquire(ctx, w) != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sem.Release(w)
			fn(i, item)
		}()
	}
	wg.Wait()
}
