package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// writeParts writes a bundle of one layer at path in parts of partSize bytes.
func writeParts(t *testing.T, path string, partSize int64, blob []byte) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	layout, index := []byte(`{"imageLayoutVersion":"1.0.0"}`), []byte(`{"schemaVersion":2,"manifests":[]}`)
	d := verify.Digest(blob)
	m := archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType, Tool: "test", Created: created,
		Layout: archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)},
		Blobs:  []archive.Blob{{Digest: d, Size: int64(len(blob)), Kind: archive.KindLayer}},
		Totals: archive.Totals{Blobs: 1, BlobBytes: int64(len(blob))}}
	mj, _ := json.Marshal(m)
	mem := func(name string, b []byte) archive.Entry {
		return archive.Entry{Name: name, Digest: verify.Digest(b), Size: int64(len(b)), Data: b}
	}
	w, err := archive.Create(path, created, []archive.Entry{mem(archive.ManifestName, mj), mem(archive.LayoutName, layout),
		mem(archive.IndexName, index), {Name: archive.BlobName(d), Digest: d, Size: int64(len(blob))}}, archive.WithParts(partSize, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEntry(t.Context(), archive.BlobName(d), verify.NewReader(bytes.NewReader(blob), d, int64(len(blob)))); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestVerifiedParts: the identity of a bundle in parts is every part's: a change to any part
// makes the blob verified again before it is trusted; the same files keep the verdict.
func TestVerifiedParts(t *testing.T) {
	blob := randomBlob(t, 3<<20)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	writeParts(t, path, 1<<20, blob)
	b, err := trust.Open(path + ".001")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id := identity(b)
	if len(id) != 4 || id[0].path != path+".001" || id[3].path != path+".004" {
		t.Fatalf("identity of the parts: %+v", id)
	}
	if !id.same(identity(b)) || !id.sameOrUnknown(identity(b)) {
		t.Fatal("the same files, another identity")
	}
	r, _ := New(t.Context(), nil)
	ctx := context.Background()
	d := verify.Digest(blob)
	for i, want := range []int64{1, 0} {
		if trusted, err := r.verifyWhole(ctx, b, d); !trusted || err != nil {
			t.Fatalf("request %d: trusted %v, %v", i, trusted, err)
		}
		if n := r.verified.Load(); n != 1 {
			t.Fatalf("request %d: %d verifications, want 1 (want %d more)", i, n, want)
		}
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(path+".003", later, later)
	if id.same(identity(b)) {
		t.Fatal("a part's new mtime is not a new identity")
	}
	if trusted, err := r.verifyWhole(ctx, b, d); !trusted || err != nil || r.verified.Load() != 2 {
		t.Fatalf("after part 3 changed: trusted %v, %v, %d verifications", trusted, err, r.verified.Load())
	}
	var none bundleID
	if none.same(nil) || !none.sameOrUnknown(nil) || none.sameOrUnknown(id) || id.sameOrUnknown(none) {
		t.Fatal("an unknown identity compares as a known one")
	}
}

// TestVerifyStoppedNotRemembered: a verification stopped by its request's context is no
// verdict: the next request verifies the blob again, and trusts it.
func TestVerifyStoppedNotRemembered(t *testing.T) {
	blob := randomBlob(t, 2<<20)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	writeBundle(t, path, blob)
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _ := New(t.Context(), nil)
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	d := verify.Digest(blob)
	if trusted, err := r.verifyWhole(stopped, b, d); trusted || !errors.Is(err, context.Canceled) {
		t.Fatalf("a stopped request: trusted %v, %v", trusted, err)
	}
	if trusted, err := r.verifyWhole(context.Background(), b, d); !trusted || err != nil || r.verified.Load() != 2 {
		t.Fatalf("the next request: trusted %v, %v, %d verifications (want 2)", trusted, err, r.verified.Load())
	}
}
