// Package create is the pull side of the air gap (bundle create): Create resolves an image
// list, extra images and Helm charts (LoadChart) against their registries, finds their
// referrers and checks their provenance when asked, then streams every blob, verified, into a
// bundle (internal/archive). A run that cannot pull every image writes no bundle unless
// partial bundles are allowed, and keeps NAME.tar.zst.partial for the rerun, which resumes it
// (UnfinishedLocal). Run is the whole of bundle create: it opens the base of a delta and the
// unfinished run, makes the registry client (the command's Client), loads the charts, pulls
// with the command's progress (Show) and finds the bundle written; the command reads flags and
// prints, and names the flags of the typed errors (mirror.ErrChartRef, mirror.ErrPartial).
//
// Diff (Delta, LoadDiffSide: bundle diff) is here because it compares what create reads and
// writes (image lists, charts, bundles) on the connected side; CheckProvenance, the offline
// check of a bundle's signatures against a policy, is here beside the online check create
// runs, with which it shares the reading of signatures.
//
// It imports internal/mirror for what it shares with the push side, and never internal/push.
package create
