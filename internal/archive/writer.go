package archive

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/atomicfile"
	"github.com/klauspost/compress/zstd"
)

// Writer writes a bundle file. Entries go in the order Add is called, the manifest first.
// The file is written to NAME.partial and renamed to NAME by Commit, with NAME.sha256 beside it;
// a bundle that was not committed never looks complete. Not safe for concurrent use.
type Writer struct {
	path    string
	f       *os.File
	bw      *bufio.Writer
	sum     hash.Hash
	off     int64
	enc     *zstd.Encoder
	mtime   time.Time
	tab     table
	names   map[string]bool
	scratch [1]byte
}

// Create starts a bundle at path. Every tar header carries mtime (truncated to the second), so
// the same entries and mtime give a byte-identical file. A stale path.sha256 is removed first.
func Create(path string, mtime time.Time) (*Writer, error) {
	if err := os.Remove(path + ".sha256"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path+".partial", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, f: f, sum: sha256.New(), mtime: mtime.UTC().Truncate(time.Second),
		names: make(map[string]bool), tab: table{FormatVersion: FormatVersion}}
	w.bw = bufio.NewWriterSize(writerFunc(w.write), 1<<20)
	w.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// write is the bottom of the stack: the file, hashed and counted in the same pass.
func (w *Writer) write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.sum.Write(p[:n])
	w.off += int64(n)
	return n, err
}

// Add writes one entry of exactly size bytes read from r, in its own zstd frame. digest is the
// content's digest, recorded in the offset table; the caller has verified it (r should fail at
// its end otherwise: Add reads r to io.EOF). The first entry must be the manifest.
func (w *Writer) Add(name, digest string, size int64, r io.Reader) error {
	if err := checkName(name); err != nil {
		return err
	}
	if w.names[name] {
		return fmt.Errorf("bundle entry %s: added twice", name)
	}
	if (len(w.tab.Entries) == 0) != (name == ManifestName) {
		return fmt.Errorf("bundle entry %s: the manifest must be the first entry", name)
	}
	w.names[name] = true
	start := w.offset()
	if err := w.frame(func(tw io.Writer) error {
		t := tar.NewWriter(tw)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: w.mtime}
		if err := t.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(t, r)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%d bytes, want %d", n, size)
		}
		if _, err := r.Read(w.scratch[:]); err != io.EOF {
			return fmt.Errorf("more than the declared %d bytes, or not verified: %v", size, err)
		}
		return t.Flush()
	}); err != nil {
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	w.tab.Entries = append(w.tab.Entries, entry{Name: name, Digest: digest, Size: size, Offset: start, Length: w.offset() - start})
	return nil
}

// frame runs fill against a fresh zstd frame and ends the frame.
func (w *Writer) frame(fill func(io.Writer) error) error {
	w.enc.Reset(w.bw)
	if err := fill(w.enc); err != nil {
		return err
	}
	return w.enc.Close()
}

// offset is the number of compressed bytes written so far.
func (w *Writer) offset() int64 { return w.off + int64(w.bw.Buffered()) }

// Commit ends the archive, writes the offset table and footer, syncs, renames the file into
// place and writes NAME.sha256 (sha256sum format). It returns the file's sha256 in hex.
func (w *Writer) Commit() (string, error) {
	defer w.Abort()
	w.tab.EndOffset = w.offset()
	if err := w.frame(func(tw io.Writer) error { return tar.NewWriter(tw).Close() }); err != nil {
		return "", err
	}
	w.tab.EndLength = w.offset() - w.tab.EndOffset
	tail, err := encodeTail(&w.tab, w.offset())
	if err != nil {
		return "", err
	}
	if _, err := w.bw.Write(tail); err != nil {
		return "", err
	}
	if err := w.bw.Flush(); err != nil {
		return "", err
	}
	if err := w.f.Sync(); err != nil {
		return "", err
	}
	if err := w.f.Close(); err != nil {
		return "", err
	}
	w.f = nil
	if err := os.Rename(w.path+".partial", w.path); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(w.sum.Sum(nil))
	line := sum + "  " + filepath.Base(w.path) + "\n"
	return sum, atomicfile.WriteFile(w.path+".sha256", []byte(line), 0o644)
}

// Abort removes the partial file. It is a no-op after Commit.
func (w *Writer) Abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.path + ".partial")
		w.f = nil
	}
}
