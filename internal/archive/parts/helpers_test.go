package parts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// The bundles of these tests are written through the archive writer, as bundle create writes
// them; the helpers are those of the archive package's tests, on its exported API.

// testPlan is a bundle's entries: the manifest, the layout files, and the blobs to stream.
func testPlan(t testing.TB, created time.Time, blobs ...[]byte) []archive.Entry {
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

func writeBlob(t testing.TB, w *archive.Writer, b []byte) {
	t.Helper()
	d := verify.Digest(b)
	if err := w.WriteEntry(context.Background(), archive.BlobName(d), verify.NewReader(bytes.NewReader(b), d, int64(len(b)))); err != nil {
		t.Fatal(err)
	}
}

type testEntry struct {
	name, digest string
	data         []byte
}

// writeTestBundle writes a small valid bundle with the given blobs (streamed, last first) and
// returns its path and entries.
func writeTestBundle(t testing.TB, dir string, blobs ...[]byte) (string, []testEntry) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	plan := testPlan(t, created, blobs...)
	var entries []testEntry
	for i, e := range plan {
		data := e.Data
		if i >= 3 {
			data = blobs[i-3]
		}
		entries = append(entries, testEntry{e.Name, e.Digest, data})
	}
	path := filepath.Join(dir, "b.tar.zst")
	w, err := archive.Create(path, created, plan)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(blobs) - 1; i >= 0; i-- { // any order
		writeBlob(t, w, blobs[i])
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path, entries
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b := mustRead(t, path)
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, mustRead(t, from), 0o644); err != nil {
		t.Fatal(err)
	}
}

var partsCreated = time.Unix(1700000000, 0).UTC()

// writeParts writes a bundle of blobs at path with opts and returns what Commit returned.
func writeParts(t *testing.T, path string, blobs [][]byte, opts ...archive.Option) string {
	t.Helper()
	w, err := archive.Create(path, partsCreated, testPlan(t, partsCreated, blobs...), opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		writeBlob(t, w, b)
	}
	sum, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// mustFind finds the bundle the arguments name through the trusted door, as every command does.
func mustFind(t *testing.T, tr trust.Trust, args ...string) *trust.Set {
	t.Helper()
	s, err := trust.Find(context.Background(), tr, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func verifyDigestHex(b []byte) string { return strings.TrimPrefix(verify.Digest(b), "sha256:") }
