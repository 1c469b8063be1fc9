package archive

import "errors"

var (
	// ErrCorrupt is wrapped by every error about a bundle whose content or structure is wrong.
	ErrCorrupt = errors.New("bundle is corrupt")
	// ErrUnsupported is wrapped when the bundle is of a format version this tool cannot read.
	ErrUnsupported = errors.New("unsupported bundle")
	// ErrNotFound is wrapped when a blob or entry is not in the bundle.
	ErrNotFound = errors.New("not in the bundle")
	// ErrChecksum is wrapped when the file does not match its .sha256.
	ErrChecksum = errors.New("bundle checksum does not match")
)
