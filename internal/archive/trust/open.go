package trust

import (
	"context"
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// Open opens the bundle at path (the bundle file, or any part of a bundle in parts: see
// parts.Locate), with no signature required: Find with no keys, then OpenSet. It does not read
// the blobs: see Verify.
func Open(path string) (*archive.Bundle, error) {
	s, err := Find(context.Background(), Trust{}, path)
	if err != nil {
		return nil, err
	}
	return OpenSet(s)
}

// Open opens the bundle of a Set that Find gave. A bundle in parts must have every data part
// there, of its size, when allParts is set (push, verify); otherwise (list reads only the
// first and last parts) the parts that are missing or damaged are returned with the bundle.
// Errors name every bad part and say whether the parity parts can rebuild it.
func (s *Set) Open(ctx context.Context, allParts bool) (*archive.Bundle, []parts.Status, error) {
	var bad []parts.Status
	var partsErr error
	if s.Split() {
		_, err := parts.Check(ctx, &s.Set, false, nil)
		var pe *parts.Error
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

// OpenSet opens the bundle of a Set that Find gave, and refuses any other; a signed one's
// footer is compared with the signed checksum file before anything else is read. Parts found
// twice must have been resolved (parts.Check does it) or be the same bytes. Set.Open checks
// the parts first.
func OpenSet(s *Set) (*archive.Bundle, error) {
	b, _, err := s.open()
	return b, err
}

// open opens the bundle of s, as OpenSet does, and returns the Store it reads (the Bundle closes
// it).
func (s *Set) open() (*archive.Bundle, *parts.Store, error) {
	if !s.found {
		return nil, nil, errors.New("archive: a Set must come from Find")
	}
	st, err := s.OpenStore()
	if err != nil {
		return nil, nil, err
	}
	b, err := archive.NewReader(st, st.Size(), archive.CheckFooter(s.checkSigned), archive.Closing(st), archive.From(s))
	if err != nil {
		st.Close()
		where := s.Whole
		if s.Split() {
			where = s.Name + " (in parts)"
		}
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	return b, st, nil
}

// checkSigned compares a signed bundle's footer with its signed checksum file, before the
// offset table is read: the table's digest and the file's size must be the signed ones.
func (s *Set) checkSigned(tableDigest string, size int64) error {
	if s.Signature == nil {
		return nil
	}
	switch sums := s.Sums; {
	case sums.Table == "":
		return fmt.Errorf("%w: the checksum file records no offset table digest (an older tool made it): sign it again with bundle sign", ErrSignature)
	case tableDigest != sums.Table:
		return fmt.Errorf("%w: the bundle's offset table is %s, the signed checksum file records %s: the bundle is not the one signed",
			ErrSignature, tableDigest, sums.Table)
	case size != sums.Size:
		return fmt.Errorf("%w: the bundle is %d bytes, the signed checksum file records %d: the bundle is not the one signed", ErrSignature, size, sums.Size)
	}
	return nil
}
