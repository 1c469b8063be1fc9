package archive

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// lowestRead is a ReaderAt that records the lowest offset read.
type lowestRead struct {
	f      *os.File
	lowest atomic.Int64
}

func (r *lowestRead) ReadAt(p []byte, off int64) (int, error) {
	for {
		l := r.lowest.Load()
		if off >= l || r.lowest.CompareAndSwap(l, off) {
			break
		}
	}
	return r.f.ReadAt(p, off)
}

func openFile(t *testing.T, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// TestNewReaderCheckFooter: the check is handed the offset table's digest (the sha256 of the
// table the footer points at) and the bundle's size, and its refusal is NewReader's, before a
// byte other than the footer's is read.
func TestNewReaderCheckFooter(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), []byte("one layer"))
	f, size := openFile(t, path)
	foot := make([]byte, footerSize)
	if _, err := f.ReadAt(foot, size-footerSize); err != nil {
		t.Fatal(err)
	}
	off, n := int64(binary.LittleEndian.Uint64(foot[24:])), int64(binary.LittleEndian.Uint64(foot[32:]))
	table := make([]byte, n)
	if _, err := f.ReadAt(table, off); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(table[8:]) // the table's JSON, after its frame's header
	want := "sha256:" + hex.EncodeToString(sum[:])

	var gotDigest string
	var gotSize int64
	b, err := NewReader(f, size, CheckFooter(func(d string, s int64) error { gotDigest, gotSize = d, s; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if gotDigest != want || gotSize != size || b.TableDigest() != want {
		t.Errorf("check was handed %s, %d (TableDigest %s); want %s, %d", gotDigest, gotSize, b.TableDigest(), want, size)
	}
	b.Close()

	refused := errors.New("not the signed table")
	r := &lowestRead{f: f}
	r.lowest.Store(size)
	if _, err := NewReader(r, size, CheckFooter(func(string, int64) error { return refused })); err != refused {
		t.Fatalf("a refused footer: %v, want the check's error as it is", err)
	}
	if l := r.lowest.Load(); l != size-footerSize {
		t.Errorf("read from byte %d before the check refused; only the footer (%d) may be", l, size-footerSize)
	}
}

// closeCounter counts Close calls.
type closeCounter struct{ n atomic.Int32 }

func (c *closeCounter) Close() error { c.n.Add(1); return nil }

// TestNewReaderClosingFrom: Close closes what Closing names, once, and nothing when not told;
// Origin is what From says.
func TestNewReaderClosingFrom(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), []byte("one layer"))
	f, size := openFile(t, path)
	var c closeCounter
	origin := &struct{ name string }{"the set"}
	b, err := NewReader(f, size, Closing(&c), From(origin))
	if err != nil {
		t.Fatal(err)
	}
	if b.Origin() != origin || b.Size() != size {
		t.Errorf("Origin %v, Size %d; want %v, %d", b.Origin(), b.Size(), origin, size)
	}
	if c.n.Load() != 0 {
		t.Fatal("closed before Close")
	}
	b.Close()
	if c.n.Load() != 1 {
		t.Errorf("Close closed the Closing closer %d times, want once", c.n.Load())
	}

	b, err = NewReader(f, size)
	if err != nil {
		t.Fatal(err)
	}
	if b.Origin() != nil {
		t.Errorf("Origin without From = %v", b.Origin())
	}
	b.Close()
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil {
		t.Errorf("Close without Closing closed the file: %v", err)
	}

	// A bundle refused is not opened: the closer is the caller's to close.
	var c2 closeCounter
	if _, err := NewReader(f, size-1, Closing(&c2)); !errors.Is(err, ErrCorrupt) || c2.n.Load() != 0 {
		t.Errorf("a bundle cut short: %v, closer closed %d times", err, c2.n.Load())
	}
}

// TestManifestDisagrees: the offset table and the manifest must name the same entries with the
// same digests: a digest swapped in either is corrupt, naming the entry and both digests.
func TestManifestDisagrees(t *testing.T) {
	blob := []byte("layer bytes")
	other := verify.Digest([]byte("other bytes")) // same length, another digest
	es := validEntries(t, blob)
	name := es[3].table.Name
	es[3].table.Digest = other
	_, err := openPath(craft(t, es))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name) ||
		!strings.Contains(err.Error(), "offset table says "+other) || !strings.Contains(err.Error(), "manifest says "+verify.Digest(blob)) {
		t.Fatalf("a digest the manifest does not list: %v", err)
	}
}

// TestOpenPathNames: an error opening a bundle names it: the file, or NAME (in parts); a file
// that is not there is fs.ErrNotExist.
func TestOpenPathNames(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeTestBundle(t, dir, []byte("one layer"))
	if err := os.Truncate(path, footerSize-1); err != nil {
		t.Fatal(err)
	}
	if _, err := openPath(path); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("a truncated bundle: %v, want it to begin with %s", err, path)
	}

	split := filepath.Join(t.TempDir(), "p.tar.zst")
	created := time.Unix(1700000000, 0).UTC()
	blob := randomBytes(t, 64<<10)
	w, err := Create(split, created, testPlan(t, created, blob), WithParts(16<<10, 0))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, blob)
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := parts.DataName(split, parts.Count(int64(len(blob)), 16<<10)) // the part the footer is in
	if _, err := os.Stat(last); err != nil {
		t.Fatalf("the fixture: %v", err)
	}
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff // the footer's last byte
	if err := os.WriteFile(last, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openPath(split); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "p.tar.zst (in parts): ") {
		t.Errorf("a bundle in parts with a bad footer: %v", err)
	}

	if _, err := openPath(filepath.Join(dir, "none.tar.zst")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no bundle: %v", err)
	}
}
