package mirror

import "errors"

var (
	// ErrClash is wrapped when two sources would land on the same repository:tag with different digests.
	ErrClash = errors.New("two images would land on the same repository and tag with different digests")
	// ErrPartial is wrapped when some images were pushed and others failed.
	ErrPartial = errors.New("some images failed")
	// ErrReadBack is wrapped when the registry serves another digest than the bundle's for a tag.
	ErrReadBack = errors.New("registry serves a different digest than the bundle")
)
