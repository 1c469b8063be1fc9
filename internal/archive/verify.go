package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// Counter receives byte counts as they are read; it must be cheap and safe for concurrent use.
type Counter interface{ Add(n int64) }

// EntryError is a problem with one entry of the bundle.
type EntryError struct {
	Name   string // tar entry name
	Digest string
	Err    error
}

func (e *EntryError) Error() string { return fmt.Sprintf("bundle entry %s: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Result is what Verify found.
type Result struct {
	// SHA256 is the file's sha256 in hex, computed in the same pass; for a bundle in parts,
	// the checksum file's, once every part matched its own line there.
	SHA256   string
	Checksum string        // "matched", "missing" (no NAME.sha256 beside the file)
	Bad      []*EntryError // entries whose content did not verify; empty when all did
	Parts    []PartStatus  // for a bundle in parts: every part, data then parity
}

// Verify verifies the bundle at path (see Locate for what path may be), as VerifySet does.
func Verify(ctx context.Context, path string, progress Counter) (*Result, error) {
	s, err := Find(ctx, Trust{}, path)
	if err != nil {
		return nil, err
	}
	return VerifySet(ctx, s, progress)
}

// VerifySet reads the whole bundle once, in order: it hashes the file (or each of its parts),
// decodes every frame the offset table lists, and verifies every entry's tar header, size and
// digest. It checks the file's sha256 (or every part's) against the checksum file when there is
// one (a mismatch is an error wrapping ErrChecksum; a part lost or damaged, a *PartsError).
// Bad entries are collected in Result.Bad rather than stopping the pass; a structural fault
// (footer, table, manifest) stops it. A bundle in parts that lacks a data part, or one of the
// wrong size, is not read: every part is hashed instead, so that Result.Parts names every part
// lost or damaged. progress, if not nil, counts the bytes read.
func VerifySet(ctx context.Context, s *Set, progress Counter) (*Result, error) {
	if !s.Split() {
		return verifyWhole(ctx, s, progress)
	}
	_, err := CheckParts(ctx, s, false, nil) // presence and sizes; copies found twice settled
	var pe *PartsError
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
	parts, err := CheckParts(ctx, s, true, progress)
	if err == nil && unread != nil {
		return nil, unread
	}
	return &Result{Parts: parts}, err
}

// verifyWhole verifies a bundle in one file against its checksum file.
func verifyWhole(ctx context.Context, s *Set, progress Counter) (*Result, error) {
	b, err := OpenSet(s)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	res, err := b.verify(ctx, progress, nil)
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
func verifyParts(ctx context.Context, s *Set, progress Counter) (*Result, error) {
	b, err := OpenSet(s)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	ph := newPartHasher(b.closer.(*files).partSize)
	res, err := b.verify(ctx, progress, ph)
	if err != nil {
		return nil, fmt.Errorf("%s (in parts): %w", s.Name, err)
	}
	res.SHA256, res.Checksum = "", "missing"
	if s.Sums == nil {
		for i, p := range firstPaths(s.Data) {
			res.Parts = append(res.Parts, PartStatus{Name: partName(s.Name, i), Path: p})
		}
		return res, nil
	}
	got := ph.sums()
	var bad []PartStatus
	for i, p := range firstPaths(s.Data) {
		st := PartStatus{Name: partName(s.Name, i), Path: p, Problem: s.sumProblem(i, false, got[i])}
		if st.Problem != "" {
			bad = append(bad, st)
		}
		res.Parts = append(res.Parts, st)
	}
	for i, paths := range s.Parity {
		st := s.checkPart(ctx, i, true, paths, true, progress)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.Problem != "" {
			bad = append(bad, st)
		}
		res.Parts = append(res.Parts, st)
	}
	if len(bad) > 0 {
		return res, &PartsError{Bad: bad, Parts: len(res.Parts), Parity: len(s.Parity)}
	}
	res.SHA256, res.Checksum = s.Sums.SHA256, "matched"
	return res, nil
}

// Verify reads the whole bundle once, as VerifySet does, without the checksum file:
// Result.Checksum is left empty.
func (b *Bundle) Verify(ctx context.Context, progress Counter) (*Result, error) {
	return b.verify(ctx, progress, nil)
}

// verify reads the whole bundle once, in order, hashing it into Result.SHA256 or, when ph is
// set, into ph (a bundle in parts).
func (b *Bundle) verify(ctx context.Context, progress Counter, ph *partHasher) (*Result, error) {
	res := &Result{}
	sum := sha256.New()
	var dst io.Writer = sum
	if ph != nil {
		dst = ph
	}
	// One sequential reader over the file, teed into the hash.
	f := &countingReader{r: ctxReader{ctx, bufio.NewReaderSize(io.NewSectionReader(b.f, 0, b.size), 1<<20)}, n: progress}
	tee := io.TeeReader(f, dst)
	for _, e := range b.tab.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := b.verifyFrame(e, io.LimitReader(tee, e.Length)); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ce *EntryError
			if !errors.As(err, &ce) {
				ce = &EntryError{Name: e.Name, Digest: e.Digest, Err: err}
			}
			res.Bad = append(res.Bad, ce)
		}
	}
	if err := checkEnd(io.LimitReader(tee, b.tab.EndLength)); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // the table and the footer
		return nil, err
	}
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return res, nil
}

// verifyFrame decodes one entry's frame from src, verifies it, and reads src to its end.
func (b *Bundle) verifyFrame(e entry, src io.Reader) error {
	r, err := b.openStream(e, src)
	if err != nil {
		io.Copy(io.Discard, src)
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	if _, cerr := io.Copy(io.Discard, src); err == nil {
		err = cerr
	}
	return err
}

// checkEnd checks the end-of-archive frame: one frame, decoding to the tar trailer alone, and
// nothing after it before the table.
func checkEnd(src io.Reader) error {
	d, err := newDecoder()
	if err != nil {
		return err
	}
	defer d.Close()
	fr := newFrameReader(src, "end-of-archive frame")
	if err := d.Reset(fr); err != nil {
		return fmt.Errorf("%w: end-of-archive frame: %v", ErrCorrupt, err)
	}
	got, err := io.ReadAll(io.LimitReader(decoded{d, fr}, 64<<10))
	if err != nil {
		return err
	}
	if len(got) < 1024 || len(got) > 10240 || !bytes.Equal(got, make([]byte, len(got))) || !fr.Done() || !atEOF(src) {
		return fmt.Errorf("%w: end-of-archive frame is not a tar trailer alone", ErrCorrupt)
	}
	return nil
}

// copyCounted copies src to dst in 1 MiB reads, counting them, and stops when ctx is done.
func copyCounted(ctx context.Context, dst io.Writer, src io.Reader, progress Counter) error {
	_, err := io.CopyBuffer(dst, &countingReader{r: ctxReader{ctx, src}, n: progress}, make([]byte, 1<<20))
	return err
}

type countingReader struct {
	r io.Reader
	n Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n != nil {
		c.n.Add(int64(n))
	}
	return n, err
}
