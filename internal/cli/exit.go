package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Exit codes, the same for both commands.
const (
	ExitOK          = 0
	ExitError       = 1   // anything else: unreachable registry, a registry failing every upload, bad image list
	ExitUsage       = 2   // wrong flags or arguments
	ExitVerify      = 3   // the bundle (or a pulled blob) failed verification: carry it again, or repair it
	ExitPartial     = 4   // some images were done, others failed (rerun to resume); or a partial bundle
	ExitRefused     = 5   // the registry refuses or lacks what is needed: fix the cause named, then rerun
	ExitNotLocal    = 6   // the render check found images the chart would pull from elsewhere
	ExitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM)
)

const exitCodesHelp = `EXIT CODES:
   0    success
   1    error (registry unreachable, or failing every upload; bad image list, ...): fix the cause named
   2    usage error (flags or arguments)
   3    verification failed (corrupt bundle or part, checksum or digest mismatch, bundle not signed
        by an allowed key): carry the bundle again, or repair it from parity (unbundle repair)
   4    partial: some images failed, the others are done (rerun the same command to resume), or
        the bundle is partial (it lists what it lacks; --allow-partial accepts that)
   5    refused: the registry refuses or lacks what the command needs (credentials, a missing
        project, repository or tag, a body limit, a media type): fix the cause named, then rerun
   6    render check: the Helm chart would pull images from elsewhere than the local registry
   130  interrupted`

// usageError is an error in how the command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitCode maps an error to the exit code documented above.
func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil: // our own context: Ctrl-C or SIGTERM, not a cancelled request
		return ExitInterrupted
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, archive.ErrCorrupt), errors.Is(err, trust.ErrChecksum), errors.Is(err, verify.ErrMismatch),
		errors.Is(err, trust.ErrSignature): // first: a damaged bundle is what to mend, whatever else failed
		return ExitVerify
	case errors.Is(err, mirror.ErrStopped):
		return ExitError
	case errors.Is(err, mirror.ErrRefused), errors.Is(err, oci.ErrUnauthorized):
		return ExitRefused
	case errors.Is(err, mirror.ErrPartial):
		return ExitPartial
	case errors.Is(err, push.ErrNotLocal):
		return ExitNotLocal
	case errors.Is(err, provenance.ErrRefused): // on the bastion: an image the policy refuses
		return ExitVerify
	}
	return ExitError
}

// exitReport prints err on stderr with the program's name (as a JSON exit event with
// --log-format json) and returns the exit code.
func exitReport(ctx context.Context, lg *logger, err error) int {
	code := exitCode(ctx, err)
	if code == ExitInterrupted {
		lg.exit(errors.New("interrupted"), code)
	} else if err != nil {
		if code == ExitVerify && lg.prog == "unbundle" && !errors.Is(err, trust.ErrSignature) && !errors.Is(err, provenance.ErrRefused) {
			err = fmt.Errorf("%w\n%s: the bundle is damaged: carry it again (unbundle verify checks the copy), or repair it from its parity parts (unbundle repair); a rerun meets the same damage", err, lg.prog)
		}
		lg.exit(withHint(err), code)
	}
	return code
}
