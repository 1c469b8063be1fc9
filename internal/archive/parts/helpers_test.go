package parts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// The bundles of these tests are written through the archive writer, as bundle create writes
// them, by internal/testbundle's helpers.
var (
	testPlan    = testbundle.Plan
	writeBlob   = testbundle.WriteLayer
	randomBytes = testbundle.RandomBytes
	mustRead    = testbundle.MustRead
	flip        = testbundle.Flip
	copyFile    = testbundle.CopyFile
)

type testEntry struct {
	name, digest string
	data         []byte
}

// writeTestBundle writes a small valid bundle with the given blobs (streamed, last first) and
// returns its path and entries.
func writeTestBundle(t testing.TB, dir string, blobs ...[]byte) (string, []testEntry) {
	t.Helper()
	path, es := testbundle.WriteLayers(t, dir, blobs...)
	entries := make([]testEntry, len(es))
	for i, e := range es {
		entries[i] = testEntry{e.Name, e.Digest, e.Data}
	}
	return path, entries
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
