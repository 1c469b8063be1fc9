package mirror

import (
	"errors"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

// The sentinels both directions wrap; each direction's own are in its package's errors.go.
var (
	// ErrPartial is wrapped when some images were pulled or pushed and others failed.
	ErrPartial = errors.New("some images failed")
	// ErrRefused is wrapped when the registry refuses what a run needs, so that running it again
	// cannot help until the cause named is fixed.
	ErrRefused = errors.New("refused: a rerun meets the same answer until the cause named is fixed")
	// ErrPlatform is wrapped when an image lacks a platform asked for with --platform: a
	// single-platform image of another platform, or an index without it. It is
	// manifest.ErrPlatform, which manifest.FilterPlatforms wraps, so that one sentinel tells
	// both (and neither is retried).
	ErrPlatform = manifest.ErrPlatform
	// ErrBadManifest is wrapped when a manifest or index cannot be carried as it is.
	ErrBadManifest = errors.New("unusable manifest")
	// ErrStopped is wrapped when a push stopped early because the registry failed every
	// upload with the same answer: more tries would only repeat it.
	ErrStopped = errors.New("the registry fails every upload")
)
