package manifest

import "fmt"

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
)

// CheckSize refuses, before it is read, a manifest, index or config of size bytes over
// MaxBytes; what names it ("manifest sha256:... of ...") starts the message.
func CheckSize(what string, size int64) error {
	if size > MaxBytes {
		return fmt.Errorf("%w: %w: %s is %d bytes, over the %d MiB this tool reads", ErrBad, ErrTooLarge, what, size, MaxBytes>>20)
	}
	return nil
}
