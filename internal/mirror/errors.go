package mirror

import (
	"errors"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

var (
	// ErrClash is wrapped when two sources would land on the same repository:tag with different digests.
	ErrClash = errors.New("two images would land on the same repository and tag with different digests")
	// ErrPartial is wrapped when some images were pushed and others failed.
	ErrPartial = errors.New("some images failed")
	// ErrBaseMissing is wrapped when a delta bundle relies on blobs the destination lacks.
	ErrBaseMissing = errors.New("the destination lacks what this delta bundle was made against")
	// ErrPlatform is wrapped when an image lacks a platform asked for with --platform: a
	// single-platform image of another platform, or an index without it. It is
	// manifest.ErrPlatform, which manifest.FilterPlatforms wraps, so that one sentinel tells
	// both (and neither is retried).
	ErrPlatform = manifest.ErrPlatform
	// ErrBadManifest is wrapped when a manifest or index cannot be carried as it is.
	ErrBadManifest = errors.New("unusable manifest")
	// ErrReadBack is wrapped when the registry serves another digest than the bundle's for a tag.
	ErrReadBack = errors.New("registry serves a different digest than the bundle")
	// ErrNotLocal is wrapped when a chart's rendering runs images from elsewhere than the local
	// registry by digest.
	ErrNotLocal = errors.New("the chart would pull images from elsewhere than the local registry")
	// ErrNothing is wrapped when bundle create could pull no image at all.
	ErrNothing = errors.New("nothing to bundle")
	// ErrStopped is wrapped when a push stopped early because the registry failed every
	// upload with the same answer: more tries would only repeat it.
	ErrStopped = errors.New("the registry fails every upload")
)
