package mirror

import (
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// FailedError is err with the sentinel the failures stand for, so that one cause gives one exit
// code whichever command met it: archive.ErrCorrupt when any came from a damaged bundle (carry
// it again, or repair it: a rerun meets it again), else ErrRefused when any is a refusal another
// run will meet again (credentials, a missing repository or tag, a body limit, a media type).
func FailedError(err error, failed map[string]error) error {
	refusal := false
	for _, f := range failed {
		if Damaged(f) {
			return fmt.Errorf("%w; %w", err, archive.ErrCorrupt)
		}
		refusal = refusal || Refused(f)
	}
	if refusal {
		return fmt.Errorf("%w; %w", err, ErrRefused)
	}
	return err
}

// damaged reports whether a failure is the bundle's own: a blob that did not verify, or could
// not be read, where it was to be pushed from.
func Damaged(err error) bool {
	return errors.Is(err, ErrFromBundle) || errors.Is(err, archive.ErrCorrupt)
}

// refused reports whether a failure is the registry's refusal, which another run will meet
// again (credentials, a missing repository or tag, a body limit, a media type, a platform the
// image lacks), rather than a transfer that broke or a bundle that is damaged.
func Refused(err error) bool {
	if Damaged(err) {
		return false
	}
	return errors.Is(err, ErrPlatform) || !errors.Is(err, verify.ErrMismatch) && !errors.Is(err, ErrStopped) && !oci.Transient(err)
}

// Cause is what a container's failure comes down to, without the container, blob or URL it
// concerns (oci.Cause), so that one cause is told once for every container it hit: a push the
// stopper stopped says so with the registry's answer.
func Cause(err error) string {
	if errors.Is(err, ErrStopped) {
		return err.Error()
	}
	return oci.Cause(err)
}
