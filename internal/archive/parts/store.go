package parts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Store holds the bytes of a bundle: one file, or its data parts, each PartSize bytes but the
// last. ReadAt and WriteAt cross part boundaries; a missing part (opened as nil) fails the reads
// that reach it, naming it. Safe for concurrent use.
type Store struct {
	f        []*os.File
	names    []string // of every part, for errors
	partSize int64    // == size for one file
	size     int64
	split    bool // in parts (possibly one), not one file
}

// Size is the size of the bundle: of the one file, or of its parts joined.
func (s *Store) Size() int64 { return s.size }

// PartSize is the size of every data part but the last; the size of the file for one file.
func (s *Store) PartSize() int64 { return s.partSize }

// Split reports whether the bundle is in parts.
func (s *Store) Split() bool { return s.split }

// Names are the paths of the files, in order (a missing part's where it belongs).
func (s *Store) Names() []string { return s.names }

// span is the size of part i.
func (s *Store) span(i int) int64 { return min(s.partSize, s.size-int64(i)*s.partSize) }

// each calls fn for every piece of [off, off+n) within one part: part i, offset within it.
func (s *Store) each(off int64, n int, fn func(i int, within int64, lo, hi int) error) error {
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

// ReadAt reads as an os.File does, across parts. A part that is missing or shorter than its
// span fails the read with an error that names it and wraps ErrCorrupt.
func (s *Store) ReadAt(p []byte, off int64) (int, error) {
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
				filepath.Base(s.names[i]), within+int64(n), s.span(i)-within-int64(n))
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

// WriteAt writes p at off, across parts; a write outside the bundle's size is refused.
func (s *Store) WriteAt(p []byte, off int64) (int, error) {
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

// Stream returns the bytes of s for a reader of [off, off+n) alone: the parts the range spans
// are opened again, for it, with sequential access advised, so that the kernel's readahead
// follows this one stream. Readers of several entries at once through one descriptor defeat
// it: the kernel sees one file read at offsets that jump between the entries, reads little
// ahead, and a push from a bundle that is not in the page cache waits on the disk for every
// read (measured: 8 readers of 256 MiB each from a cold file, one descriptor 2.1-4.8 s, a
// descriptor each 1.1-2.1 s). A part that cannot be opened again is read through s. done
// closes what Stream opened.
func (s *Store) Stream(off, n int64) (r *Store, done func()) {
	c := &Store{f: slices.Clone(s.f), names: s.names, partSize: s.partSize, size: s.size, split: s.split}
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

// Writeback starts the write-back of [off, off+n) to the disk, without waiting for it
// (writeback_*.go), so that the final Sync finds little left to do.
func (s *Store) Writeback(off, n int64) {
	s.each(off, int(n), func(i int, within int64, lo, hi int) error {
		startWriteback(s.f[i], within, int64(hi-lo))
		return nil
	})
}

// Sync syncs every file to the disk.
func (s *Store) Sync() error {
	for _, f := range s.f {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every file; reads and writes after it fail (as on a closed os.File).
func (s *Store) Close() error {
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

// Create opens (creating them) the files of a bundle of size bytes at base, as one file
// (partSize 0) or in parts of partSize bytes: every part but the last at its full size
// (unwritten bytes read as zeros; the last reaches its size when the writer writes the end of
// the bundle); truncate empties them first. The caller closes the Store.
func Create(base string, size, partSize int64, truncate bool) (*Store, error) {
	s := &Store{names: Names(base, size, partSize), partSize: partSize, size: size, split: partSize > 0}
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
			err = f.Truncate(s.span(i))
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
