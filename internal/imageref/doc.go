// Package imageref names images as Docker names them. Operators write `postgres`,
// `docker.io/postgres` or `index.docker.io/library/postgres` for one image, and Helm charts
// write `registry: docker.io` with `repository: postgres` (matrix-stack's postgres.image does):
// Docker reads each as docker.io/library/postgres. Normalize applies that rule to a server and
// path given apart (an image list's entry, a chart's image block); Parse reads a whole
// reference given on the command line (bundle create --image, --mirror's registry).
//
// Everything that reads a reference goes through here, so the bundle records one name per
// image, and the local registry's paths follow it: docker.io/postgres and
// docker.io/library/postgres land on the same HOST/PREFIX/library/postgres.
//
// Entry is one image's identity through the pipeline, as the image list names it: component,
// container, server, path and tag, with Key, Repository and RefAt. digests.Image (the list's
// entry) and archive.Image and archive.Missing (bundle.json's records) embed it, so an image
// crosses from the list to the bundle and back in one assignment.
//
// It is a leaf: it imports github.com/distribution/reference (Docker's own grammar and
// normalization) and nothing of this module.
package imageref
