package push

import "errors"

var (
	// ErrRegistry is wrapped when a registry is not HOST[:PORT][/PREFIX]; the command names its flag.
	ErrRegistry = errors.New("want HOST[:PORT][/PREFIX], without a scheme")
	// ErrNoChart is wrapped when a bundle carries no Helm chart to check.
	ErrNoChart = errors.New("no Helm chart in the bundle")
	// ErrWhichChart is wrapped when a bundle carries several charts and none was named.
	ErrWhichChart = errors.New("say which chart")
	// ErrClash is wrapped when two sources would land on the same repository:tag with different digests.
	ErrClash = errors.New("two images would land on the same repository and tag with different digests")
	// ErrBaseMissing is wrapped when a delta bundle relies on blobs the destination lacks.
	ErrBaseMissing = errors.New("the destination lacks what this delta bundle was made against")
	// ErrReadBack is wrapped when the registry serves another digest than the bundle's for a tag.
	ErrReadBack = errors.New("registry serves a different digest than the bundle")
	// ErrNotLocal is wrapped when a chart's rendering runs images from elsewhere than the local
	// registry by digest.
	ErrNotLocal = errors.New("the chart would pull images from elsewhere than the local registry")
	// ErrReferrers is wrapped (with mirror.ErrPartial) when every image was pushed but some of their
	// referrers were not: the images are usable, their signatures or SBOMs are missing.
	ErrReferrers = errors.New("some referrers (signatures, attestations, SBOMs) failed")
)
