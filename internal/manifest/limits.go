package manifest

import (
	"errors"
	"fmt"
)

// The bounds on what this tool reads into memory about one image, wherever it reads it from
// (a registry, a bundle, an earlier bundle) and wherever it serves it (unbundle serve). Real
// images are far below them: an ESS image is an index of a few KiB with a handful of
// manifests of a few KiB, some 10 to 60 layers in all.
const (
	// MaxBytes bounds one manifest or index, and one config: registries themselves refuse
	// manifests over 4 MiB (Distribution's default), and a config is a few KiB.
	MaxBytes = 4 << 20
	// MaxNodes bounds an image's graph: the descriptors its distinct manifests and indexes
	// list (the children of every index, the config and layers of every manifest), plus the
	// root. A manifest or index listed many times is read, parsed and counted once.
	MaxNodes = 10000
	// MaxGraphBytes bounds the bytes of an image's distinct manifests and indexes together.
	MaxGraphBytes = 16 << 20
	// MaxTotalBytes bounds the manifests and indexes of a whole bundle, which push and serve
	// hold in memory: ESS's are about 1 MiB; 64 MiB is some 20,000 images.
	MaxTotalBytes = 64 << 20
)

// CheckTotal refuses a set of manifests and indexes (what names it) of total bytes over
// MaxTotalBytes, with an error matching ErrGraph and ErrBad.
func CheckTotal(what string, total int64) error {
	if total <= MaxTotalBytes {
		return nil
	}
	return graphError("%s: its manifests and indexes are %d bytes in all, over the %d MiB limit", what, total, MaxTotalBytes>>20)
}

// limitError is a bound passed: it matches ErrBad and its kind (ErrTooLarge, ErrGraph).
type limitError struct {
	msg  string
	kind error
}

func (e *limitError) Error() string { return e.msg }

func (e *limitError) Is(target error) bool { return target == ErrBad || target == e.kind }

// CheckSize refuses, before it is read, a manifest, index or config of size bytes over
// MaxBytes, with an error matching ErrTooLarge and ErrBad; what names it ("manifest
// sha256:...") and starts the message, unless it is "".
func CheckSize(what string, size int64) error {
	if size <= MaxBytes {
		return nil
	}
	msg := fmt.Sprintf("%d bytes, over the %d MiB limit of a manifest, index or config", size, MaxBytes>>20)
	if what != "" {
		msg = what + " is " + msg
	}
	return &limitError{msg: msg, kind: ErrTooLarge}
}

// Over is the error (matching ErrTooLarge and ErrBad) for a manifest, index or config found
// to pass MaxBytes while it was read, its size unknown: what names it.
func Over(what string) error {
	return &limitError{msg: fmt.Sprintf("%s is over the %d MiB limit of a manifest, index or config", what, MaxBytes>>20), kind: ErrTooLarge}
}

func graphError(format string, a ...any) error {
	return &limitError{msg: fmt.Sprintf(format, a...), kind: ErrGraph}
}

// IsLimit reports whether err is a bound of this package passed (ErrTooLarge, ErrGraph).
func IsLimit(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}
