package trust

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// Verify verifies the bundle at path (see parts.Locate for what path may be) with no signature
// required: Find with no keys, then VerifySet.
func Verify(ctx context.Context, path string, progress archive.Counter) (*archive.Result, error) {
	s, err := Find(ctx, Trust{}, path)
	if err != nil {
		return nil, err
	}
	return VerifySet(ctx, s, progress)
}

// VerifySet reads the whole bundle of a Set that Find gave once, in order (archive.Bundle.Verify):
// it hashes the file (or each of its parts), decodes every frame the offset table lists, and
// verifies every entry's tar header, size and digest. It checks the file's sha256 (or every
// part's) against the checksum file when there is one (a mismatch is an error wrapping
// ErrChecksum; a part lost or damaged, a *parts.Error). Bad entries are collected in
// Result.Bad rather than stopping the pass; a structural fault (footer, table, manifest) stops
// it. A bundle in parts that lacks a data part, or one of the wrong size, is not read: every
// part is hashed instead, so that Result.Parts names every part lost or damaged. progress, if
// not nil, counts the bytes read.
func VerifySet(ctx context.Context, s *Set, progress archive.Counter) (*archive.Result, error) {
	if !s.Split() {
		return verifyWhole(ctx, s, progress)
	}
	_, err := parts.Check(ctx, &s.Set, false, nil) // presence and sizes; copies found twice settled
	var pe *parts.Error
	if err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	var unread error // why the content could not be read, with every data part there
	if pe == nil || pe.Bad[0].Parity {
		res, err := verifyParts(ctx, s, progress)
		if err == nil || errors.As(err, &pe) || ctx.Err() != nil || s.Sums == nil {
			return res, err
		}
		unread = err // a damaged part may be why: find it
	}
	all, err := parts.Check(ctx, &s.Set, true, progress)
	if err == nil && unread != nil {
		return nil, unread
	}
	return &archive.Result{Parts: all}, err
}

// verifyWhole verifies a bundle in one file against its checksum file.
func verifyWhole(ctx context.Context, s *Set, progress archive.Counter) (*archive.Result, error) {
	b, err := OpenSet(s)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	res, err := b.Verify(ctx, progress)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Whole, err)
	}
	res.Checksum = "missing"
	if s.Sums != nil {
		res.Checksum = "matched"
		if s.Sums.SHA256 != res.SHA256 {
			return res, fmt.Errorf("%w: %s has sha256 %s, %s says %s", ErrChecksum, filepath.Base(s.Whole), res.SHA256,
				filepath.Base(s.SumsPath), s.Sums.SHA256)
		}
	}
	return res, nil
}

// verifyParts verifies a bundle in parts whose data parts are all there: the content in one
// pass that hashes each part, then the parity parts.
func verifyParts(ctx context.Context, s *Set, progress archive.Counter) (*archive.Result, error) {
	b, st, err := s.open()
	if err != nil {
		return nil, err
	}
	defer b.Close()
	ph := parts.NewHasher(st.PartSize())
	res, err := b.VerifyInto(ctx, progress, ph)
	if err != nil {
		return nil, fmt.Errorf("%s (in parts): %w", s.Name, err)
	}
	res.Checksum = "missing"
	all, err := parts.CheckHashed(ctx, &s.Set, ph.Sums(), progress)
	if all == nil {
		return nil, err
	}
	res.Parts = all
	if err != nil || s.Sums == nil {
		return res, err
	}
	res.SHA256, res.Checksum = s.Sums.SHA256, "matched"
	return res, nil
}

// Repair rebuilds the lost or damaged parts of the bundle of a Set that Find gave, from its
// other parts and its parity parts, into dir: parts.Repair, with the checksum file Find
// established (with a signature beside it, one that verifies it).
func Repair(ctx context.Context, s *Set, dir string, progress archive.Counter) ([]parts.Rebuilt, error) {
	return parts.Repair(ctx, &s.Set, dir, progress)
}
