package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// blobAttempts is how many times a whole blob transfer may be tried. The transport already
// retries each request; this covers what it cannot replay: a body that broke mid-stream, or an
// upload refused after its body was sent. Both take from one budget (oci.Budget): with 20 % of
// requests failing, one blob failing 10 times in a row has odds of 1 in 10 million, and a
// registry that fails every request alike is given up on after oci.SameAnswer answers, not
// retries x attempts.
const blobAttempts = 10

// RetryBlob runs fn until it succeeds, fails for a reason another try cannot mend (the bundle
// itself is corrupt, credentials refused, cancelled), has been tried blobAttempts times, or
// the transfer's budget is spent: the client's --retries (at least blobAttempts-1 retries
// without progress) within its --retry-time, shared by the transport's retries of fn's
// requests (fn gets the context that carries the budget); the same answer oci.SameAnswer times
// in a row ends it. Stalls (nothing moved for the --timeout) are counted across the attempts:
// at the oci.MaxStalls-th, or when one request stalled that often, the transfer is given up,
// and so is any retry around this one (errStalledOut): a stalling upstream costs about
// MaxStalls x --timeout.
func RetryBlob(ctx context.Context, c *oci.Client, fn func(ctx context.Context) error) error {
	budget := c.NewBudget(blobAttempts - 1)
	return retry(ctx, budget, oci.WithBudget(ctx, budget), fn)
}

// RetryMany is RetryBlob for an operation of many requests (an image's manifests and configs,
// its referrers): each request keeps the transport's own retries, and the budget counts the
// operation's retries only, or the many requests' hiccups together would spend it.
func RetryMany(ctx context.Context, c *oci.Client, fn func(ctx context.Context) error) error {
	return retry(ctx, c.NewBudget(blobAttempts-1), ctx, fn)
}

// retry runs fn with fctx until it succeeds, cannot succeed, or budget is spent.
func retry(ctx context.Context, budget *oci.Budget, fctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	stalls := 0
	for attempt := 1; ; attempt++ {
		if err = fn(fctx); err == nil || attempt == blobAttempts || !Retryable(ctx, err) {
			return err
		}
		if s, final := oci.Stalled(err); s {
			if stalls++; final || stalls >= oci.MaxStalls {
				return fmt.Errorf("%w (%w)", err, errStalledOut)
			}
		}
		if !budget.Retry(oci.Answer(err)) {
			if answer, n := budget.Repeated(); answer != "" {
				return fmt.Errorf("%w (the same answer %d times in a row: not tried again)", err, n)
			}
			return err
		}
		t := time.NewTimer(retryPause(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// retryPause is the wait before the next try after attempt failed: 250 ms more each time, at
// most 2 s. A variable so that a test of how many tries are made need not wait them out.
var retryPause = func(attempt int) time.Duration {
	return min(time.Duration(attempt)*250*time.Millisecond, 2*time.Second)
}

// errStalledOut marks a transfer given up for its stalls: not to be retried again.
var errStalledOut = errors.New("given up: the upstream stalls again and again")

// retryable: a stream that broke, or a transient answer to an upload whose body the transport
// could not replay. Not: any other answer from the registry or a refused connection (the
// transport has already retried those), a corrupt bundle, a cancelled run.
func Retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrFromBundle) || errors.Is(err, archive.ErrCorrupt) || errors.Is(err, errStalledOut) ||
		errors.Is(err, verify.ErrBadDigest) || errors.Is(err, ErrPlatform) || errors.Is(err, ErrBadManifest) ||
		errors.Is(err, manifest.ErrBad) {
		return false
	}
	return oci.Broken(err)
}

// ErrFromBundle marks errors that came from reading the bundle, not from the network.
var ErrFromBundle = errors.New("in the bundle")
