// Package mirror joins the registry client (internal/oci), the bundle file (internal/archive),
// the image list (internal/digests) and Helm charts (internal/chart): Create pulls a list, extra
// images and charts into a bundle (none when an image fails, unless partial bundles are
// allowed); Check (the preflight) and Push push a bundle into a registry and return
// what the registry then serves, reading the bundle's images, manifests and referrers
// through internal/graph; TakeInventory records what a registry holds; CheckChart
// renders a chart against the registry. Failures are told by cause (Cause) with one exit
// sentinel per cause, and a push whose registry fails every upload stops. It is the only package that imports both oci and
// archive; cli calls it, and nothing it imports calls back.
package mirror
