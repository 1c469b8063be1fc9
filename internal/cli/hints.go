package cli

import (
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
)

// The lower layers name what failed and why; which flag would mend it is said here, from
// their typed errors, so that a message names a flag only where the command has it.

// flagHint is what a flag of the command line can do about err: "" when no flag can.
func flagHint(err error) string {
	switch {
	case errors.Is(err, oci.ErrUnknownCA):
		return "give the registry's CA certificate with --ca-file"
	case errors.Is(err, oci.ErrSpeaksHTTP):
		return "give --plain-http if that is meant (what is sent then crosses the network unencrypted, credentials included)"
	case errors.Is(err, oci.ErrPlainHTTP):
		return "give --plain-http to allow it (what is sent then crosses the network unencrypted, credentials included)"
	case errors.Is(err, oci.ErrNoCredentials):
		return "give --username and --password-stdin, or log in with docker login"
	}
	return ""
}

// withHint is err with flagHint's advice after it, if it has one.
func withHint(err error) error {
	if h := flagHint(err); h != "" {
		return fmt.Errorf("%w: %s", err, h)
	}
	return err
}

// optionError names the flag behind an option of the registry client that New refused: a
// usage error, or (a CA file that cannot be used) an error naming --ca-file; nil when err is
// neither.
func optionError(err error) error {
	var me *oci.MirrorError
	switch {
	case errors.As(err, &me) && me.Mirror != "":
		return usagef("--mirror %q: %s", me.Mirror, me.Problem)
	case errors.As(err, &me):
		return usagef("--mirror: %s", me.Problem)
	case errors.Is(err, oci.ErrOption):
		return usagef("%v", err)
	case errors.Is(err, oci.ErrCAFile):
		return fmt.Errorf("--ca-file: %w", err)
	}
	return nil
}

// trustedRootError says, after provenance.FetchTrustedRoot's error, which flag gives the
// trusted root instead of fetching it; other errors are returned as they are.
func trustedRootError(err error) error {
	if errors.Is(err, provenance.ErrTrustedRootFetch) {
		return fmt.Errorf("%w; give --trusted-root FILE", err)
	}
	return err
}

// helmError says, after the error of a render check that found no helm binary
// (chart.ErrNoHelm), how to name one; other errors are returned as they are.
func helmError(err error) error {
	if errors.Is(err, chart.ErrNoHelm) {
		return fmt.Errorf("%w: install helm, or name it with --helm BINARY", err)
	}
	return err
}

// imageError tells an error of digests.ParseExtra or AddExtra as the --image flag it came
// from; other errors are returned as they are.
func imageError(err error) error {
	var xe *digests.ExtraError
	var te *digests.TakenError
	switch {
	case errors.As(err, &xe):
		return fmt.Errorf("--image %w", err)
	case errors.As(err, &te):
		by := "the image list"
		if te.By != "" {
			by = "--image " + te.By
		}
		return &flagged{msg: fmt.Sprintf("--image %s: %v: %s is taken by %s: name it with --image COMPONENT.CONTAINER=%s",
			te.Ref, digests.ErrInvalidList, te.Key, by, te.Ref), err: err}
	}
	return err
}

// sinceError names --since in an error of delta.LoadBase; other errors are returned as they are.
func sinceError(err error) error {
	var be *delta.BaseError
	if errors.As(err, &be) {
		return fmt.Errorf("--since: %w", err)
	}
	return err
}

// flagged is a lower layer's error told again by the command line, naming the flag: its text
// is msg, and it matches what err matches.
type flagged struct {
	msg string
	err error
}

func (f *flagged) Error() string { return f.msg }

func (f *flagged) Unwrap() error { return f.err }
