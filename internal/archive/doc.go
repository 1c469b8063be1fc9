// Package archive reads and writes the bundle file: a zstd-compressed tar of an OCI image
// layout, with the bundle manifest as its first entry and a table of every entry's compressed
// offset in a skippable frame at its end. docs/bundle-format.md is the specification.
//
// The package knows nothing of registries: it stores named, digested entries and gives them
// back verified.
package archive
