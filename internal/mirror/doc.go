// Package mirror is what both directions of the air gap share: bundle create (internal/create,
// the pull side) and unbundle push (internal/push, the push side). It holds the bounded worker
// pools (ForEach, ForEachWeighted; DefaultJobs, DefaultPushJobs), the retry of whole blob
// transfers on one budget (RetryBlob, RetryMany, Retryable), the sentinels both wrap
// (ErrPartial, ErrRefused, ErrPlatform, ErrBadManifest, ErrStopped), the telling of failures by
// cause (FailedError, Cause), progress counting and events (Progress, Event, Observer), and
// the fetch of a Helm chart's artifact from a registry (PullChart: create carries it, push's
// render check reads it back).
//
// It imports the registry client (internal/oci), the bundle file's sentinels and Stater
// (internal/archive: it reads no bundle), manifests, image lists, charts and verify, and
// nothing of create or push: both import it, and it imports neither.
package mirror
