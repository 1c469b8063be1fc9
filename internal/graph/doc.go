// Package graph is the image graph of one or more opened bundles, read once: every image
// the bundles list, with its manifests and indexes (its tree, and so its platforms), its
// referrers (OCI 1.1 ones and cosign's tags, and what refers to those in turn), the
// repository it maps to under a destination's prefix, the blobs each image and each
// repository needs, and the images that use each blob. unbundle push, serve, list and
// verify read a bundle's images through it; inventory and diff take the images and blobs
// bundle.json lists from it, without reading a manifest (New).
//
// Read (New, then Load) reads each manifest and index from the first bundle given that
// carries it, verified, once per digest for the whole graph, within internal/manifest's
// bounds: the manifests and indexes of the bundles together at most manifest.MaxTotalBytes
// (checked from bundle.json before a byte is read), each at most manifest.MaxBytes (checked
// from the bundle's record of its size before it is read), each image's graph within
// manifest.MaxNodes and MaxGraphBytes (manifest.Parse). Past them, or when a manifest cannot
// be carried as it is, the bundle is corrupt: the error wraps archive.ErrCorrupt and names
// the image and the manifest. An image's referrers are found from an index of the bundle's
// referrers by subject: the work is linear in what the bundles list.
//
// A Graph is not changed once Load returned, and is then safe for concurrent reads. The
// caller keeps the bundles open while it reads blobs through Carrier, and closes them.
//
// It imports internal/archive and internal/manifest, and nothing of registries.
package graph
