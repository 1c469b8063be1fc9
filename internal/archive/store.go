package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A bundle is one file, NAME.tar.zst, or parts NAME.tar.zst.001, .002, ... that are the file cut
// at every partSize bytes (the last part holds the rest), so that joining them in order gives
// the file. Parity parts NAME.tar.zst.p01, .p02, ... (parity.go) may follow. Nothing else
// differs: the format, the offset table and the footer are those of the joined file.

// maxDataParts keeps part names three digits long, so that `cat NAME.tar.zst.0*` and a shell's
// sorting join them in order.
const maxDataParts = 999

// partName is the name of data part i (0-based) of the bundle at base.
func partName(base string, i int) string { return fmt.Sprintf("%s.%03d", base, i+1) }

// parityName is the name of parity part i (0-based) of the bundle at base.
func parityName(base string, i int) string { return fmt.Sprintf("%s.p%02d", base, i+1) }

// partIndex parses a data part's suffix ("001") or a parity part's ("p01") into a 0-based index.
func partIndex(suffix string) (i int, parity, ok bool) {
	if parity = strings.HasPrefix(suffix, "p"); parity {
		suffix = suffix[1:]
		if len(suffix) < 2 {
			return 0, false, false
		}
	} else if len(suffix) < 3 {
		return 0, false, false
	}
	n, err := strconv.Atoi(suffix)
	if err != nil || n < 1 || strings.TrimLeft(suffix, "0123456789") != "" {
		return 0, false, false
	}
	return n - 1, parity, true
}

// dataParts is how many parts a bundle of size bytes takes at partSize bytes a part (0: one file).
func dataParts(size, partSize int64) int {
	if partSize <= 0 {
		return 1
	}
	return int(max(1, (size+partSize-1)/partSize))
}

// files holds the bytes of a bundle: one file, or its data parts, each partSize bytes but the
// last. ReadAt and WriteAt cross part boundaries; a missing part (nil) fails the reads that
// reach it, naming it. Safe for concurrent use.
type files struct {
	f        []*os.File
	names    []string // of every part, for errors
	partSize int64    // == size for one file
	size     int64
}

// partSpan is the size of part i.
func (s *files) partSpan(i int) int64 { return min(s.partSize, s.size-int64(i)*s.partSize) }

// each calls fn for every piece of [off, off+n) within one part: part i, offset within it.
func (s *files) each(off int64, n int, fn func(i int, within int64, lo, hi int) error) error {
	for done := 0; done < n; {
		i := int((off + int64(done)) / s.partSize)
		within := off + int64(done) - int64(i)*s.partSize
		k := int(min(int64(n-done), s.partSize-within))
		if err := fn(i, within, done, done+k); err != nil {
			return err
		}
		done += k
	}
	return nil
}

func (s *files) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	var short error
	if off >= s.size {
		return 0, io.EOF
	}
	if rest := s.size - off; int64(len(p)) > rest {
		p, short = p[:rest], io.EOF
	}
	read := 0
	err := s.each(off, len(p), func(i int, within int64, lo, hi int) error {
		if s.f[i] == nil {
			return fmt.Errorf("%w: part %s is missing", ErrCorrupt, filepath.Base(s.names[i]))
		}
		n, err := s.f[i].ReadAt(p[lo:hi], within)
		read += n
		if err == io.EOF && n < hi-lo {
			return fmt.Errorf("%w: part %s ends at byte %d, %d bytes short (truncated?)", ErrCorrupt,
				filepath.Base(s.names[i]), within+int64(n), s.partSpan(i)-within-int64(n))
		}
		if err != nil && err != io.EOF {
			return err
		}
		return nil
	})
	if err != nil {
		return read, err
	}
	return read, short
}

func (s *files) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > s.size {
		return 0, fmt.Errorf("write of %d bytes at %d is outside the bundle's %d bytes", len(p), off, s.size)
	}
	written := 0
	err := s.each(off, len(p), func(i int, within int64, lo, hi int) error {
		n, err := s.f[i].WriteAt(p[lo:hi], within)
		written += n
		return err
	})
	return written, err
}

// stream returns the bytes of s for a reader of [off, off+n) alone: the parts the range spans
// are opened again, for it, with sequential access advised, so that the kernel's readahead
// follows this one stream. Readers of several entries at once through one descriptor defeat
// it: the kernel sees one file read at offsets that jump between the entries, reads little
// ahead, and a push from a bundle that is not in the page cache waits on the disk for every
// read (measured: 8 readers of 256 MiB each from a cold file, one descriptor 2.1-4.8 s, a
// descriptor each 1.1-2.1 s). A part that cannot be opened again is read through s. done
// closes what stream opened.
func (s *files) stream(off, n int64) (r *files, done func()) {
	c := &files{f: slices.Clone(s.f), names: s.names, partSize: s.partSize, size: s.size}
	var own []*os.File
	s.each(off, int(min(n, s.size-off)), func(i int, _ int64, _, _ int) error {
		if s.f[i] != nil {
			if f, err := os.Open(s.names[i]); err == nil {
				adviseSequential(f)
				c.f[i] = f
				own = append(own, f)
			}
		}
		return nil
	})
	return c, func() {
		for _, f := range own {
			f.Close()
		}
	}
}

// writeback starts the write-back of [off, off+n) to the disk (writeback_*.go).
func (s *files) writeback(off, n int64) {
	s.each(off, int(n), func(i int, within int64, lo, hi int) error {
		startWriteback(s.f[i], within, int64(hi-lo))
		return nil
	})
}

func (s *files) Sync() error {
	for _, f := range s.f {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every file; reads and writes after it fail (as on a closed os.File).
func (s *files) Close() error {
	var first error
	for _, f := range s.f {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// storeNames are the file names of a bundle of size bytes at base: base itself, or its parts.
func storeNames(base string, size, partSize int64) []string {
	if partSize <= 0 {
		return []string{base}
	}
	var names []string
	for i := range dataParts(size, partSize) {
		names = append(names, partName(base, i))
	}
	return names
}

// createFiles opens (creating them) the files of a bundle of size bytes at base, every part but
// the last at its full size (unwritten bytes read as zeros; the last reaches its size when the
// writer writes the tail); truncate empties them first.
func createFiles(base string, size, partSize int64, truncate bool) (*files, error) {
	s := &files{names: storeNames(base, size, partSize), partSize: partSize, size: size}
	if partSize <= 0 {
		s.partSize = size
	}
	flags := os.O_RDWR | os.O_CREATE
	if truncate {
		flags |= os.O_TRUNC
	}
	for i, name := range s.names {
		f, err := os.OpenFile(name, flags, 0o644)
		if err == nil && i < len(s.names)-1 {
			err = f.Truncate(s.partSpan(i))
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			s.Close()
			return nil, err
		}
		s.f = append(s.f, f)
	}
	return s, nil
}

// storeFiles lists the files of a bundle that exist at base: base itself, and its data and parity
// parts found beside it.
func storeFiles(base string) []string {
	var found []string
	if st, err := os.Lstat(base); err == nil && (st.Mode().IsRegular() || st.Mode()&os.ModeSymlink != 0) {
		found = append(found, base)
	}
	matches, _ := filepath.Glob(globEscape(base) + ".*")
	for _, m := range matches {
		if _, _, ok := partIndex(strings.TrimPrefix(m, base+".")); ok {
			found = append(found, m)
		}
	}
	return found
}

// renameStore moves every file of the bundle at from to the same names at to.
func renameStore(from, to string) error {
	for _, name := range storeFiles(from) {
		if err := os.Rename(name, to+strings.TrimPrefix(name, from)); err != nil {
			return err
		}
	}
	return nil
}

// removeStore removes every file of the bundle at base but those in keep.
func removeStore(base string, keep ...string) {
	for _, name := range storeFiles(base) {
		if !contains(keep, name) {
			os.Remove(name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// globEscape quotes the characters filepath.Glob treats as special.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
