// Package push is the push side of the air gap (unbundle push): Push pushes a bundle's images,
// their referrers and its charts into a registry, blobs deduplicated and mounted across
// repositories, then reads every tag back (ReadBack) and returns what the registry serves.
// Destination maps source images to the local registry. Run is the whole of unbundle push:
// the push with the command's progress, then, once every image is in, the steps the command
// gives (the ConfigMap, the Helm values, the render check of each chart) in their order; a
// bundle that lacks containers gets none without AllowPartial (*MissingError). Messages name no
// flag: ErrRegistry, ErrNoChart, ErrWhichChart and MissingError are for the command to name its
// flags, as are the preflight's Problem.Mend and BodyLimitNote.
//
// The preflight (Check) is here because it is the start of every push: it runs the push's own
// first steps (credentials, an upload session per repository, the first image) and stops a run
// that would fail. The render check (CheckChart) is here because it renders a bundle's chart
// against the destination registry after a push (or from unbundle check-values) and reads the
// chart back from it. The inventory (TakeInventory) is here because it walks what the
// destination registry holds, with the same Destination, on the disconnected side (its JSON is
// what a later bundle create --since reads).
//
// Failures are told by cause (mirror.Cause) with one exit sentinel per cause, and a push whose
// registry fails every upload stops (mirror.ErrStopped). It imports internal/mirror and
// internal/graph (the bundle's image graph), and never internal/create (its tests do, to make
// bundles).
package push
