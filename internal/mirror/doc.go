// Package mirror joins the registry client (internal/oci), the bundle file (internal/archive)
// and the image list (internal/digests): Create pulls a list into a bundle, Push pushes a
// bundle into a registry and returns what the registry then serves.
package mirror
