package manifest

import "errors"

var (
	// ErrBad is wrapped when a manifest or index cannot be carried as it is.
	ErrBad = errors.New("unusable manifest")
	// ErrPlatform is wrapped when an image lacks a platform asked for.
	ErrPlatform = errors.New("platform not available")
)
