package manifest

import "errors"

var (
	// ErrBad is wrapped when a manifest or index cannot be carried as it is.
	ErrBad = errors.New("unusable manifest")
	// ErrPlatform is wrapped when an image lacks a platform asked for.
	ErrPlatform = errors.New("platform not available")
	// ErrTooLarge is matched (with ErrBad) when a manifest, index or config is larger than
	// MaxBytes.
	ErrTooLarge = errors.New("larger than the limit")
	// ErrGraph is matched (with ErrBad) when an image's graph of manifests is larger than
	// MaxNodes or MaxGraphBytes.
	ErrGraph = errors.New("image graph too large")
)
