// Package oci talks to registries: it resolves and fetches manifests as their exact bytes,
// streams verified blobs, and pushes blobs (skipping those present, mounting those another
// repository of the same registry has) and manifests.
//
// One Client holds one go-containerregistry Puller, so one limiter caps the blob transfers
// of every image. The package knows nothing of the bundle file.
package oci
