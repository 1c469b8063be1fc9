package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
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
)

// Writer writes a bundle file. Entries go in the order they are added, the manifest first.
// The file is written to NAME.partial and renamed to NAME by Commit, with NAME.sha256 beside it;
// a bundle that was not committed never looks complete. Not safe for concurrent use.
type Writer struct {
	path  string
	f     *os.File
	bw    *bufio.Writer
	sum   hash.Hash
	off   int64
	enc   *Encoder
	mtime time.Time
	tab   table
	names map[string]bool
	hdr   bytes.Buffer
}

// Create starts a bundle at path. Every tar header carries mtime (truncated to the second), so
// the same entries and mtime give a byte-identical file. A stale path.sha256 is removed first.
func Create(path string, mtime time.Time) (*Writer, error) {
	if err := os.Remove(path + ".sha256"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	enc, err := NewEncoder()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".partial", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, f: f, sum: sha256.New(), mtime: mtime.UTC().Truncate(time.Second), enc: enc,
		names: make(map[string]bool), tab: table{FormatVersion: FormatVersion}}
	w.bw = bufio.NewWriterSize(writerFunc(w.write), 1<<20)
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

// Add writes one entry of exactly size bytes read from r. digest is the content's digest,
// recorded in the offset table; the caller has verified it, or r fails at its end (Add reads r
// to io.EOF). The first entry must be the manifest.
func (w *Writer) Add(name, digest string, size int64, r io.Reader) error {
	return w.add(name, digest, size, func(dst io.Writer) error {
		_, err := w.enc.EncodeData(dst, size, r)
		return err
	})
}

// AddEncoded writes one entry whose data frame was made ahead by Encoder.EncodeData: frame
// yields exactly that frame. digest and size describe the content, as for Add.
func (w *Writer) AddEncoded(name, digest string, size int64, frame io.Reader) error {
	return w.add(name, digest, size, func(dst io.Writer) error {
		_, err := io.Copy(dst, frame)
		return err
	})
}

// add writes the header frame of an entry, then its data frame through data.
func (w *Writer) add(name, digest string, size int64, data func(io.Writer) error) error {
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
	w.hdr.Reset()
	t := tar.NewWriter(&w.hdr)
	if err := t.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: w.mtime}); err != nil {
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	if err := w.enc.encodeRaw(w.bw, w.hdr.Bytes()); err != nil {
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	if err := data(w.bw); err != nil {
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	w.tab.Entries = append(w.tab.Entries, entry{Name: name, Digest: digest, Size: size, Offset: start, Length: w.offset() - start})
	return nil
}

// offset is the number of compressed bytes written so far.
func (w *Writer) offset() int64 { return w.off + int64(w.bw.Buffered()) }

// Commit ends the archive, writes the offset table and footer, syncs, renames the file into
// place and writes NAME.sha256 (sha256sum format). It returns the file's sha256 in hex.
func (w *Writer) Commit() (string, error) {
	defer w.Abort()
	w.tab.EndOffset = w.offset()
	if err := w.enc.encodeRaw(w.bw, make([]byte, 2*blockSize)); err != nil {
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
