package testbundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Plan is the entries of a bundle of the given layers, as the archive writer takes them: the
// manifest, the layout files (in memory), and the layers to stream.
func Plan(t testing.TB, created time.Time, blobs ...[]byte) []archive.Entry {
	t.Helper()
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index := []byte(`{"schemaVersion":2,"manifests":[]}`)
	m := archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType, Tool: "test", Created: created,
		Layout: archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}}
	var streamed []archive.Entry
	for _, b := range blobs {
		d := verify.Digest(b)
		m.Blobs = append(m.Blobs, archive.Blob{Digest: d, Size: int64(len(b)), Kind: archive.KindLayer})
		m.Totals.BlobBytes += int64(len(b))
		streamed = append(streamed, archive.Entry{Name: archive.BlobName(d), Digest: d, Size: int64(len(b))})
	}
	m.Totals.Blobs = len(m.Blobs)
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mem := func(name string, b []byte) archive.Entry {
		return archive.Entry{Name: name, Digest: verify.Digest(b), Size: int64(len(b)), Data: b}
	}
	return append([]archive.Entry{mem(archive.ManifestName, mj), mem(archive.LayoutName, layout), mem(archive.IndexName, index)}, streamed...)
}

// WriteLayer streams layer b into w, verified.
func WriteLayer(t testing.TB, w *archive.Writer, b []byte) {
	t.Helper()
	d := verify.Digest(b)
	if err := w.WriteEntry(context.Background(), archive.BlobName(d), verify.NewReader(bytes.NewReader(b), d, int64(len(b)))); err != nil {
		t.Fatal(err)
	}
}

// Entry is an entry of a bundle WriteLayers wrote, with its content.
type Entry struct {
	Name, Digest string
	Data         []byte
}

// WriteLayers writes a small valid bundle of the given layers (streamed last first) at
// dir/b.tar.zst and returns its path and entries.
func WriteLayers(t testing.TB, dir string, blobs ...[]byte) (string, []Entry) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	plan := Plan(t, created, blobs...)
	var entries []Entry
	for i, e := range plan {
		data := e.Data
		if i >= 3 {
			data = blobs[i-3]
		}
		entries = append(entries, Entry{e.Name, e.Digest, data})
	}
	path := filepath.Join(dir, "b.tar.zst")
	w, err := archive.Create(path, created, plan)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(blobs) - 1; i >= 0; i-- { // any order
		WriteLayer(t, w, blobs[i])
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path, entries
}

// RandomBytes is n random bytes.
func RandomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// MustRead is the content of the file at path.
func MustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Flip flips a bit of the byte at off in the file at path.
func Flip(t testing.TB, path string, off int64) {
	t.Helper()
	b := MustRead(t, path)
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies the file at from to to.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, MustRead(t, from), 0o644); err != nil {
		t.Fatal(err)
	}
}

// PartsCreated is the creation time of the bundles WriteParts writes.
var PartsCreated = time.Unix(1700000000, 0).UTC()

// WriteParts writes a bundle of the given layers at path with opts (parts, parity) and
// returns what Commit returned.
func WriteParts(t testing.TB, path string, blobs [][]byte, opts ...archive.Option) string {
	t.Helper()
	w, err := archive.Create(path, PartsCreated, Plan(t, PartsCreated, blobs...), opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		WriteLayer(t, w, b)
	}
	sum, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
