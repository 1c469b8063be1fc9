// Package parts holds a bundle's bytes in files: one file, NAME.tar.zst, or data parts
// NAME.tar.zst.001, .002, ... that are that file cut every part size bytes (the last part holds
// the rest), with parity parts NAME.tar.zst.p01, ... that rebuild any as many parts lost or
// damaged; and the checksum file NAME.tar.zst.sha256 that lists the sha256 of every one of them.
//
// It knows nothing of what the bytes are (the bundle format is package archive's): it stores
// them (Store: one io.ReaderAt and io.WriterAt over the parts, safe for concurrent use),
// hashes them part by part as they are written in order (Hasher), computes the parity parts
// (WriteParity), reads and writes the checksum file (Sums, with hard limits on its size and
// counts), finds the files of one bundle from what a user names (Locate), checks them against
// the checksum file (Check) and rebuilds the bad ones from the parity parts (Repair).
//
// It is the bottom room of the bundle archive (archive/trust -> archive -> archive/parts) and
// imports neither: the checksum file lives here, not in trust, because locating the parts,
// checking them and rebuilding them all need what it lists, and the writer writes it.
// Nothing here decides whether the checksum file is to be believed: package trust checks its
// signature, and every command reaches the parts through trust.Find. Errors about the files
// wrap ErrCorrupt (the same sentinel as archive.ErrCorrupt).
package parts
