package mirror

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// forEach runs fn on the items, at most jobs at a time, starting them in the slice's order
// (largest blobs first, where the caller sorted them so). Once ctx is done it starts no more.
// It returns when every fn it started has returned; fn records its own outcome.
func forEach[T any](ctx context.Context, jobs int, items []T, fn func(i int, item T)) {
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
