package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// writeBundle writes a bundle of these layers at path (no images: verifyWhole needs none).
func writeBundle(t *testing.T, path string, blobs ...[]byte) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	layout, index := []byte(`{"imageLayoutVersion":"1.0.0"}`), []byte(`{"schemaVersion":2,"manifests":[]}`)
	m := archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType, Tool: "test", Created: created,
		Layout: archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}}
	var layers []archive.Entry
	for _, b := range blobs {
		d := verify.Digest(b)
		m.Blobs = append(m.Blobs, archive.Blob{Digest: d, Size: int64(len(b)), Kind: archive.KindLayer})
		m.Totals.BlobBytes += int64(len(b))
		layers = append(layers, archive.Entry{Name: archive.BlobName(d), Digest: d, Size: int64(len(b))})
	}
	m.Totals.Blobs = len(m.Blobs)
	mj, _ := json.Marshal(m)
	mem := func(name string, b []byte) archive.Entry {
		return archive.Entry{Name: name, Digest: verify.Digest(b), Size: int64(len(b)), Data: b}
	}
	w, err := archive.Create(path, created, append([]archive.Entry{mem(archive.ManifestName, mj), mem(archive.LayoutName, layout), mem(archive.IndexName, index)}, layers...))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		d := verify.Digest(b)
		if err := w.WriteEntry(t.Context(), archive.BlobName(d), verify.NewReader(bytes.NewReader(b), d, int64(len(b)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func randomBlob(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestVerifiedOnce: a blob is verified once for the life of the registry while the bundle's
// file is unchanged; once the file changes (a new mtime; a rewrite) it is verified again
// before it is trusted; a corrupt blob is refused, stays refused without being read again
// while the file is unchanged, and is verified again once the file changes; many requests at
// once verify it once.
func TestVerifiedOnce(t *testing.T) {
	good, bad := randomBlob(t, 3<<20), randomBlob(t, 2<<20)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	writeBundle(t, path, good, bad)
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	off, length, _ := b.EntryRange(archive.BlobName(verify.Digest(bad)))
	flipByte(t, path, off+length/2)

	r, err := New(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dg, db := verify.Digest(good), verify.Digest(bad)
	check := func(what, digest string, wantTrusted, wantErr bool, wantVerified int64) {
		t.Helper()
		before := r.verified.Load()
		trusted, err := r.verifyWhole(ctx, b, digest)
		if trusted != wantTrusted || (err != nil) != wantErr || r.verified.Load()-before != wantVerified {
			t.Errorf("%s: trusted %v, err %v, %d verifications; want %v, error %v, %d", what, trusted, err, r.verified.Load()-before, wantTrusted, wantErr, wantVerified)
		}
		if wantErr && !errors.Is(err, verify.ErrMismatch) && !errors.Is(err, archive.ErrCorrupt) {
			t.Errorf("%s: %v, want a mismatch", what, err)
		}
	}
	check("first request", dg, true, false, 1)
	check("second request", dg, true, false, 0)
	check("corrupt blob", db, false, true, 1)
	check("corrupt blob again", db, false, true, 0)

	// Many at once, after a change: one verification.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	before := r.verified.Load()
	done := make(chan bool, 8)
	for range 8 {
		go func() {
			trusted, err := r.verifyWhole(ctx, b, dg)
			done <- trusted && err == nil
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a request at once was not served trusted")
		}
	}
	if n := r.verified.Load() - before; n != 1 {
		t.Errorf("8 requests at once after the file changed: %d verifications, want 1", n)
	}
	check("corrupt blob, file changed", db, false, true, 1)

	// The bytes change: a good blob turns bad, and is refused from then on.
	goff, glen, _ := b.EntryRange(archive.BlobName(dg))
	flipByte(t, path, goff+glen/2)
	check("good blob changed", dg, false, true, 1)
	check("good blob changed, again", dg, false, true, 0)
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c [1]byte
	if _, err := f.ReadAt(c[:], off); err != nil {
		t.Fatal(err)
	}
	c[0] ^= 0x40
	if _, err := f.WriteAt(c[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestUntrustedStreamsVerified: a bundle with no files to know (archive.NewReader) is never
// trusted: each request streams it verified, its last bytes held.
func TestUntrustedStreamsVerified(t *testing.T) {
	good := randomBlob(t, 2<<20)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	writeBundle(t, path, good)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := archive.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(t.Context(), nil)
	for range 2 {
		trusted, err := r.verifyWhole(context.Background(), b, verify.Digest(good))
		if trusted || err != nil {
			t.Fatalf("trusted %v, %v", trusted, err)
		}
	}
	if n := r.verified.Load(); n != 1 {
		t.Errorf("%d verifications, want 1 (the verdict is kept; the trust is not)", n)
	}
	s := &blobSeeker{b: b, digest: verify.Digest(good), size: int64(len(good))}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, good) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}
