package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/sshsig"
)

// Every command reads a bundle through one door, Find, then Set.Open (or VerifySet, Repair,
// Sign on the Set it gives), in this order:
//
//  1. the files are located and the checksum file is read, with hard limits (its size, its
//     lines, the part counts), before anything is allocated from what it says;
//  2. with allowed keys, the signature over the checksum file is checked; without, a
//     signature lying beside the bundle must still be a valid signature of that checksum file
//     (a bundle swapped in with its own checksum file beside the real signature is refused),
//     and the caller says that it was not checked against a key;
//  3. Set.Open reads the footer and, for a signed bundle, compares the offset table's digest
//     and the file's size with the signed checksum file before the table or the manifest is
//     parsed; only then are they parsed (linear in their size, each bounded).

// Trust says what Find requires of the bundle's signature.
type Trust struct {
	// Keys are the allowed signers (--public-key, $ESS_AIRGAP_PUBLIC_KEY): the bundle must be
	// signed by one of them. None: a signature is not required.
	Keys []sshsig.Allowed
	// Now is when the keys' validity is judged; zero means the current time.
	Now time.Time
	// Replacing skips the signature beside the bundle: bundle sign is about to replace it.
	Replacing bool
}

// maxSigSize bounds a signature file (an armored SSHSIG of an ed25519 key is under 1 KiB).
const maxSigSize = 64 << 10

// Find locates the bundle the arguments name (see Locate) and establishes what its signature
// says, as the package's one door: every reader of a bundle starts here. With t.Keys the
// checksum file must be signed by one of them (s.Signature says who); without, a signature
// lying beside it must verify that checksum file (s.Unchecked says by which key; the caller
// says it was not checked against an allowed key). Errors wrap ErrSignature for a signature
// refused, ErrCorrupt for a checksum file that cannot be read.
func Find(ctx context.Context, t Trust, args ...string) (*Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := locate(args...)
	if err != nil {
		return nil, err
	}
	if t.Now.IsZero() {
		t.Now = time.Now()
	}
	switch {
	case len(t.Keys) > 0:
		sig, err := checkSignature(s, t.Keys, t.Now)
		if err != nil {
			return nil, err
		}
		s.Signature = sig
	case !t.Replacing:
		if s.Unchecked, err = checkSelfSigned(s); err != nil {
			return nil, err
		}
	}
	s.found = true
	return s, nil
}

// checkSelfSigned checks a signature lying beside the bundle against the key it names: it must
// sign the checksum file as it is, or the two do not belong together. It returns nil when there
// is no signature.
func checkSelfSigned(s *Set) (*Signature, error) {
	if s.SumsPath == "" {
		return nil, nil
	}
	sigFile := s.SumsPath + ".sig"
	sig, err := readSmall(sigFile, maxSigSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, err := readSmall(s.SumsPath, maxSumsSize)
	if err != nil {
		return nil, err
	}
	key, err := sshsig.Verify(sig, SignatureNamespace, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not sign %s as it is (%v): the bundle or its checksum file is not the one that was signed; carry all three again",
			ErrSignature, filepath.Base(sigFile), filepath.Base(s.SumsPath), err)
	}
	return &Signature{Key: sshsig.ID(key), Signed: s.Sums.Signed}, nil
}

// Open opens the bundle of a Set that Find gave. A bundle in parts must have every data part
// there, of its size, when allParts is set (push, verify); otherwise (list reads only the
// first and last parts) the parts that are missing or damaged are returned with the bundle.
// Errors name every bad part and say whether the parity parts can rebuild it.
func (s *Set) Open(ctx context.Context, allParts bool) (*Bundle, []PartStatus, error) {
	var bad []PartStatus
	var partsErr error
	if s.Split() {
		_, err := CheckParts(ctx, s, false, nil)
		var pe *PartsError
		if err != nil && !errors.As(err, &pe) {
			return nil, nil, err
		}
		if pe != nil {
			bad, partsErr = pe.Bad, err
			if allParts {
				return nil, bad, err
			}
		}
	}
	b, err := OpenSet(s)
	if err != nil {
		if partsErr != nil {
			return nil, bad, partsErr
		}
		return nil, bad, err
	}
	return b, bad, nil
}

// checkSigned compares a signed bundle's footer with its signed checksum file, before the
// offset table is read: the table's digest and the file's size must be the signed ones.
func (s *Set) checkSigned(f footer, size int64) error {
	if s.Signature == nil {
		return nil
	}
	switch sums := s.Sums; {
	case sums.Table == "":
		return fmt.Errorf("%w: the checksum file records no offset table digest (an older tool made it): sign it again with bundle sign", ErrSignature)
	case f.digest != sums.Table:
		return fmt.Errorf("%w: the bundle's offset table is %s, the signed checksum file records %s: the bundle is not the one signed",
			ErrSignature, f.digest, sums.Table)
	case size != sums.Size:
		return fmt.Errorf("%w: the bundle is %d bytes, the signed checksum file records %d: the bundle is not the one signed", ErrSignature, size, sums.Size)
	}
	return nil
}
