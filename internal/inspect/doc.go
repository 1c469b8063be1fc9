// Package inspect reads a bundle for the commands that look at one without pushing it:
// Verify (verify) checks every byte of it, every part of a bundle in parts, and names the
// containers that use each blob found bad; Referrers (list) reads which referrers each of its
// images has. What they find is returned, not printed: the commands print it.
//
// It imports internal/archive (and its rooms parts and trust) and internal/graph, and nothing
// of registries.
package inspect
