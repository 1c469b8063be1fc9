package trust

import "errors"

var (
	// ErrSignature is wrapped by every error about a bundle that is unsigned, or not signed by
	// an allowed key, or whose content is not what was signed.
	ErrSignature = errors.New("bundle signature refused")
	// ErrChecksum is wrapped when the bundle file does not match its checksum file.
	ErrChecksum = errors.New("bundle checksum does not match")
)
