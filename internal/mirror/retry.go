package mirror

import (
	"context"
	"errors"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// blobAttempts is how many times a whole blob transfer is tried. The transport already retries
// each request; this covers what it cannot replay: a body that broke mid-stream.
const blobAttempts = 4

// retryBlob runs fn until it succeeds, fails for a reason another try cannot mend (the bundle
// itself is corrupt, credentials refused, cancelled), or blobAttempts are spent.
func retryBlob(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || attempt == blobAttempts || !retryable(ctx, err) {
			return err
		}
		t := time.NewTimer(time.Duration(attempt) * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, errFromBundle) && !errors.Is(err, archive.ErrCorrupt) &&
		!errors.Is(err, oci.ErrUnauthorized) && !errors.Is(err, oci.ErrNotFound)
}

// errFromBundle marks errors that came from reading the bundle, not from the network.
var errFromBundle = errors.New("in the bundle")
