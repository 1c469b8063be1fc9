// Package archive reads and writes the bundle file: a zstd-compressed tar of an OCI image
// layout, with the bundle manifest as its first entry and a table of every entry's compressed
// offset in a skippable frame at its end. docs/bundle-format.md is the specification.
//
// The package knows nothing of registries: it stores named, digested entries and gives them
// back verified. It is the format: the writer (Create, with its checkpoint and resume), the
// reader (Bundle: the footer, the offset table, the manifest, each entry's frames), and the
// one-pass Bundle.Verify.
//
// The bundle archive is three rooms, importing downwards only:
//
//	archive/trust -> archive -> archive/parts
//
// Package parts holds the bytes in files (one file or parts, parity, the checksum file) and
// knows nothing of the format; this package writes and reads through it; package trust checks
// the checksum file and the signature and is the one door through which a bundle on disk is
// opened (trust.Find, then Set.Open). NewReader reads the bytes it is handed and checks no
// checksum file and no signature: trust calls it, with CheckFooter, only once those passed.
// The only files this package opens itself are the ones its writer left and reads back
// (NAME.partial, NAME.partial.prev), which no one has handed on yet.
package archive
