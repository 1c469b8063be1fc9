package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestNewReader: a bundle in memory reads as one on disk: its manifest, its entries by name
// and its blobs by digest with their media type; a name or digest it does not carry is
// ErrNotFound, naming it.
func TestNewReader(t *testing.T) {
	blob := randomBytes(t, 200<<10)
	path, entries := writeTestBundle(t, t.TempDir(), blob)
	data := mustRead(t, path)
	b, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != int64(len(data)) || b.Origin() != nil || b.Manifest().Totals.Blobs != 1 {
		t.Fatalf("size %d, set %v, manifest %+v", b.Size(), b.Origin(), b.Manifest().Totals)
	}
	for _, e := range entries {
		got, err := b.ReadFile(e.name)
		if err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%s: %d bytes, %v", e.name, len(got), err)
		}
		if off, length, ok := b.EntryRange(e.name); !ok || length <= 0 || off < 0 || off+length > b.Size() {
			t.Fatalf("%s: range %d+%d, %v", e.name, off, length, ok)
		}
	}
	rc, mt, ok := b.ByDigest(verify.Digest(blob))
	if !ok || mt != "" {
		t.Fatalf("ByDigest: %v, %q", ok, mt)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("ByDigest read %d bytes, %v", len(got), err)
	}
	absent := verify.Digest([]byte("absent"))
	if _, _, ok := b.ByDigest(absent); ok {
		t.Fatal("ByDigest found a blob the bundle does not carry")
	}
	if _, err := b.OpenBlob(absent); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), BlobName(absent)) {
		t.Fatalf("OpenBlob(absent): %v", err)
	}
	if _, err := b.OpenEntry("nothing.json"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nothing.json") {
		t.Fatalf("OpenEntry(absent): %v", err)
	}
	if _, err := b.OpenBlobRange(absent, 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenBlobRange(absent): %v", err)
	}
	if _, _, ok := b.EntryRange("nothing.json"); ok {
		t.Fatal("EntryRange of an entry not there")
	}
	if _, err := b.OpenBlobRange(verify.Digest(blob), -1, 2); err == nil {
		t.Fatal("a range from before the start was opened")
	}
}

// TestConcurrentReads: one Bundle serves many readers at once (run with -race): the same blob
// and different ones, whole and in ranges, each reading its own bytes.
func TestConcurrentReads(t *testing.T) {
	big, small := randomBytes(t, 1<<20+3), []byte("a small config blob, compressed")
	path, _ := writeTestBundle(t, t.TempDir(), big, small)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := [][]byte{big, small}[i%2]
			var rc io.ReadCloser
			var err error
			lo := int64(i * 7 % len(want))
			if i%4 < 2 {
				rc, err = b.OpenBlob(verify.Digest(want))
				lo = 0
			} else {
				rc, err = b.OpenBlobRange(verify.Digest(want), lo, int64(len(want))-lo)
			}
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want[lo:]) {
				errs <- errors.New("a concurrent read gave other bytes")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestReadAfterClose: a reader of a closed bundle fails rather than reading another file's
// bytes or hanging; Close gives the decoders back.
func TestReadAfterClose(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 300<<10))
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadFile(IndexName); err != nil { // a decoder goes back to the pool
		t.Fatal(err)
	}
	b.Close()
	if _, err := b.ReadFile(IndexName); err == nil {
		t.Fatal("read a closed bundle")
	}
	if len(b.decs) != 0 {
		t.Fatalf("%d decoders kept after Close", len(b.decs))
	}
	if _, err := verifyPath(context.Background(), path, nil); err != nil {
		t.Fatalf("the file itself is fine: %v", err)
	}
}
