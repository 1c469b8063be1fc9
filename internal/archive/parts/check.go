package parts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Counter receives byte counts as they are read; it must be cheap and safe for concurrent use.
type Counter interface{ Add(n int64) }

// Status is one part of a bundle in parts, and what a check found wrong with it.
type Status struct {
	Name    string // its file name: NAME.tar.zst.002, NAME.tar.zst.p01
	Path    string // the file checked; "" when missing
	Parity  bool
	Problem string // "" when the part is fine
}

// Error says which parts of a bundle in parts are lost or damaged, and whether its parity
// parts can rebuild them. It wraps ErrCorrupt.
type Error struct {
	Bad    []Status
	Parts  int  // data and parity parts in all
	Parity int  // parity parts
	NoSums bool // no checksum file: parity cannot tell which parts to rebuild
}

// Rebuildable reports whether Repair can rebuild every bad part.
func (e *Error) Rebuildable() bool { return !e.NoSums && len(e.Bad) <= e.Parity }

func (e *Error) Error() string {
	var names []string
	for _, b := range e.Bad {
		names = append(names, b.Name)
	}
	what := fmt.Sprintf("%d of %d parts lost or damaged (%s)", len(e.Bad), e.Parts, joinNames(names))
	switch {
	case e.NoSums:
		return what + "; without the checksum file, parity parts cannot be used: carry them again"
	case e.Parity == 0:
		return what + ", and there are no parity parts: carry them again"
	case e.Rebuildable():
		return fmt.Sprintf("%s; the %d parity parts can rebuild them: run unbundle repair", what, e.Parity)
	}
	return fmt.Sprintf("%s; the %d parity parts rebuild at most %d: carry at least %d of them again", what, e.Parity, e.Parity, len(e.Bad)-e.Parity)
}

func (e *Error) Unwrap() error { return ErrCorrupt }

// joinNames lists names, the first five and a count of the others when there are more than six.
func joinNames(names []string) string {
	if len(names) > 6 {
		return fmt.Sprintf("%s, ... %d more", joinNames(names[:5]), len(names)-5)
	}
	return strings.Join(names, ", ")
}

// Check checks every part of a bundle in parts: that it is there, of its size and, with
// hash, that its sha256 is the one the checksum file lists. A part found in several files is
// settled here: the first copy that passes is kept in s. Without a checksum file only presence
// is checked. It returns the status of every part, data then parity, and an *Error when any
// is lost or damaged. progress, if not nil, counts the bytes hashed.
func Check(ctx context.Context, s *Set, hash bool, progress Counter) ([]Status, error) {
	var all []Status
	var bad []Status
	for _, parity := range []bool{false, true} {
		lists := s.Data
		if parity {
			lists = s.Parity
		}
		for i, paths := range lists {
			st := s.checkPart(ctx, i, parity, paths, hash || len(paths) > 1, progress)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if st.Path != "" {
				lists[i] = []string{st.Path}
			}
			all = append(all, st)
			if st.Problem != "" {
				bad = append(bad, st)
			}
		}
	}
	if len(bad) == 0 {
		return all, nil
	}
	return all, &Error{Bad: bad, Parts: len(all), Parity: len(s.Parity), NoSums: s.Sums == nil}
}

// CheckHashed checks a bundle in parts whose data parts were hashed in a pass over the bundle
// (a Hasher's Sums: got): each against the checksum file, and the parity parts by hashing them.
// Without a checksum file it returns every data part as found, fine. It returns the status of
// every part, data then parity, and an *Error when any is damaged; nothing but ctx's error when
// ctx is done. progress, if not nil, counts the bytes hashed.
func CheckHashed(ctx context.Context, s *Set, got []string, progress Counter) ([]Status, error) {
	var all, bad []Status
	for i, p := range FirstPaths(s.Data) {
		st := Status{Name: DataName(s.Name, i), Path: p}
		if s.Sums != nil {
			st.Problem = s.sumProblem(i, false, got[i])
		}
		if st.Problem != "" {
			bad = append(bad, st)
		}
		all = append(all, st)
	}
	if s.Sums == nil {
		return all, nil
	}
	for i, paths := range s.Parity {
		st := s.checkPart(ctx, i, true, paths, true, progress)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.Problem != "" {
			bad = append(bad, st)
		}
		all = append(all, st)
	}
	if len(bad) > 0 {
		return all, &Error{Bad: bad, Parts: len(all), Parity: len(s.Parity)}
	}
	return all, nil
}

// checkPart checks the copies found of one part and returns the first that passes, else the
// first copy's problem.
func (s *Set) checkPart(ctx context.Context, i int, parity bool, paths []string, hash bool, progress Counter) Status {
	st := Status{Name: DataName(s.Name, i), Parity: parity}
	if parity {
		st.Name = ParityName(s.Name, i)
	}
	if len(paths) == 0 {
		st.Problem = "missing"
		return st
	}
	var first string
	for _, p := range paths {
		problem := s.partProblem(ctx, i, parity, p, hash, progress)
		if problem == "" {
			st.Path = p
			return st
		}
		if first == "" {
			st.Path, first = p, problem
		}
	}
	st.Problem = first
	if len(paths) > 1 {
		st.Problem += fmt.Sprintf(" (and the %d other copies found do not match either)", len(paths)-1)
	}
	return st
}

// partProblem says what is wrong with the file at p as part i, or "".
func (s *Set) partProblem(ctx context.Context, i int, parity bool, p string, hash bool, progress Counter) string {
	fi, err := os.Stat(p)
	if err != nil {
		return err.Error()
	}
	if s.Sums == nil {
		return ""
	}
	want := s.Sums.PartSize
	if !parity {
		want = s.Sums.partSize(i)
	}
	switch {
	case fi.Size() < want:
		return fmt.Sprintf("%d bytes, %d short of its %d (truncated)", fi.Size(), want-fi.Size(), want)
	case fi.Size() > want:
		return fmt.Sprintf("%d bytes, %d more than its %d", fi.Size(), fi.Size()-want, want)
	case !hash:
		return ""
	}
	sum, err := hashFile(ctx, p, progress)
	if err != nil {
		return err.Error()
	}
	return s.sumProblem(i, parity, sum)
}

// sumProblem says what is wrong with part i when its sha256 is sum, or "".
func (s *Set) sumProblem(i int, parity bool, sum string) string {
	listed := s.Sums.Parts
	if parity {
		listed = s.Sums.Parity
	}
	if sum == listed[i] {
		return ""
	}
	for j, other := range s.Sums.Parts {
		if sum == other {
			return fmt.Sprintf("holds the bytes of %s (a copy under the wrong name)", DataName(s.Name, j))
		}
	}
	for j, other := range s.Sums.Parity {
		if sum == other {
			return fmt.Sprintf("holds the bytes of %s (a copy under the wrong name)", ParityName(s.Name, j))
		}
	}
	return fmt.Sprintf("does not match its sha256 in %s (damaged, or from another bundle)", filepath.Base(s.SumsPath))
}

// hashFile returns the sha256 of a file in hex, stopping when ctx is done.
func hashFile(ctx context.Context, path string, progress Counter) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, &countedReader{ctx: ctx, r: f, n: progress}, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// countedReader counts what it reads (n may be nil) and fails its reads once ctx is done, so
// that a long hash stops within one read.
type countedReader struct {
	ctx context.Context
	r   io.Reader
	n   Counter
}

func (c *countedReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if c.n != nil {
		c.n.Add(int64(n))
	}
	return n, err
}
