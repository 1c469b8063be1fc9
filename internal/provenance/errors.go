package provenance

import (
	"errors"
	"fmt"
)

var (
	// ErrPolicy is a policy file that cannot be used: malformed, too large, an unknown field,
	// a bad pattern, key or regular expression.
	ErrPolicy = errors.New("provenance policy")
	// ErrTrustedRoot is a trusted root that cannot be read or fetched.
	ErrTrustedRoot = errors.New("sigstore trusted root")
	// ErrTrustedRootFetch is a trusted root that FetchTrustedRoot could not fetch over TUF:
	// the caller says how to give one instead. It also matches ErrTrustedRoot.
	ErrTrustedRootFetch = fmt.Errorf("%w", ErrTrustedRoot)
	// ErrRefused is an image the policy refuses: no signature satisfies its rule, and the
	// rule says a missing signature fails the image.
	ErrRefused = errors.New("refused by the provenance policy")
)
