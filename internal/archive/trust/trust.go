package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/sshsig"
)

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

// Set is the files of one bundle as Find found them (parts.Set: the bundle file or its parts,
// and its checksum file), and what its signature says. Only Find makes a Set that can be
// opened.
type Set struct {
	parts.Set
	// Signature is who signed the checksum file, checked against an allowed key by Find.
	Signature *Signature
	// Unchecked is the key of a signature lying beside the bundle when Find was given no
	// allowed key: the signature verifies the checksum file, but nobody said the key is trusted.
	Unchecked *Signature
	found     bool // made by Find
}

// maxSigSize bounds a signature file (an armored SSHSIG of an ed25519 key is under 1 KiB).
const maxSigSize = 64 << 10

// Find locates the bundle the arguments name (see parts.Locate) and establishes what its
// signature says, as the one door: every reader of a bundle starts here. With t.Keys the
// checksum file must be signed by one of them (s.Signature says who); without, a signature
// lying beside it must verify that checksum file (s.Unchecked says by which key; the caller
// says it was not checked against an allowed key). Errors wrap ErrSignature for a signature
// refused, archive.ErrCorrupt for a checksum file that cannot be read.
func Find(ctx context.Context, t Trust, args ...string) (*Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	found, err := parts.Locate(args...)
	if err != nil {
		return nil, err
	}
	s := &Set{Set: *found}
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

// SetOf returns the Set a bundle was opened from through this package (Set.Open, OpenSet,
// Open); nil for a bundle opened otherwise (archive.NewReader).
func SetOf(b *archive.Bundle) *Set {
	s, _ := b.Origin().(*Set)
	return s
}

// checkSelfSigned checks a signature lying beside the bundle against the key it names: it must
// sign the checksum file as it is, or the two do not belong together. It returns nil when there
// is no signature.
func checkSelfSigned(s *Set) (*Signature, error) {
	if s.SumsPath == "" {
		return nil, nil
	}
	sigFile := s.SumsPath + ".sig"
	sig, err := parts.ReadSmall(sigFile, maxSigSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data, err := parts.ReadSmall(s.SumsPath, parts.MaxSumsSize)
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
