// Package create is the pull side of the air gap (bundle create): Create resolves an image
// list, extra images and Helm charts (LoadChart) against their registries, finds their
// referrers and checks their provenance when asked, then streams every blob, verified, into a
// bundle (internal/archive). A run that cannot pull every image writes no bundle unless
// partial bundles are allowed, and keeps NAME.tar.zst.partial for the rerun, which resumes it
// (UnfinishedLocal).
//
// Diff (Delta, LoadDiffSide: bundle diff) is here because it compares what create reads and
// writes (image lists, charts, bundles) on the connected side; CheckProvenance, the offline
// check of a bundle's signatures against a policy, is here beside the online check create
// runs, with which it shares the reading of signatures.
//
// It imports internal/mirror for what it shares with the push side, and never internal/push.
package create
