// Package manifest reads OCI and Docker v2 manifests and indexes as trees: the media types this
// tool carries, descriptors, platforms, and the cut of an index down to some platforms. It is
// a leaf: it knows nothing of registries, bundles or image lists, and imports only verify.
package manifest
