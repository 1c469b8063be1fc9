// Package trust is the one door through which every command reads a bundle: Find locates its
// files (parts.Locate), reads its checksum file with hard limits and establishes what its
// signature says; Set.Open (or OpenSet, VerifySet, Repair, Sign on the Set Find gave) then
// opens, verifies, repairs or signs it. A Set that did not come from Find cannot be opened
// (OpenSet refuses it), so no bundle on disk is read before its checksum file and signature
// were looked at.
//
// The order, for every command:
//
//  1. the files are located and the checksum file is read, with hard limits (its size, its
//     lines, the part counts), before anything is allocated from what it says;
//  2. with allowed keys, the signature over the checksum file is checked; without, a
//     signature lying beside the bundle must still be a valid signature of that checksum file
//     (a bundle swapped in with its own checksum file beside the real signature is refused),
//     and the caller says that it was not checked against a key;
//  3. Set.Open reads the footer and, for a signed bundle, compares the offset table's digest
//     and the file's size with the signed checksum file before the table or the manifest is
//     parsed (archive.CheckFooter); only then are they parsed (linear in their size, each
//     bounded).
//
// A bundle is signed by signing its checksum file, NAME.tar.zst.sha256, as it is: the
// signature, NAME.tar.zst.sha256.sig, is OpenSSH's (SSHSIG, ed25519: internal/sshsig), which
// `ssh-keygen -Y verify -n ess-airgap-bundle` checks with no tool of ours. The checksum file
// lists the sha256 of the bundle or of every part, and of the offset table, which names every
// entry's digest: so the signature covers every byte a reader hands on.
//
// It is the top room of the bundle archive (archive/trust -> archive -> archive/parts): it
// stands on package archive (the format) and package parts (the files), and neither imports
// it. Open and Verify are Find with no keys, then OpenSet or VerifySet: the same door. Nothing
// else opens a bundle file: archive.NewReader reads bytes it is handed (trust hands it a Store
// only after the checks above), and archive opens by itself only the unfinished files its
// writer left.
// Errors wrap ErrSignature for a signature refused, ErrChecksum for a bundle that does not match
// its checksum file, and archive.ErrCorrupt (parts.ErrCorrupt) for a bundle that is damaged.
package trust
