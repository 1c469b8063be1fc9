// Package manifest reads OCI and Docker v2 manifests and indexes as graphs, each digest read
// once: the media types this tool carries, descriptors, platforms, the cut of an index down to
// some platforms, and the bounds on what is read of an image wherever it comes from (limits.go:
// MaxBytes a manifest, MaxNodes and MaxGraphBytes an image, MaxTotalBytes a bundle). It is a
// leaf: it knows nothing of registries, bundles or image lists, and imports only verify.
package manifest
