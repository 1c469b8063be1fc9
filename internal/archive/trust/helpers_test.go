package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
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
	// writeTestBundle writes a small valid bundle of the given layers at dir/b.tar.zst.
	writeTestBundle = testbundle.WriteLayers
	writeParts      = testbundle.WriteParts
)

func verifyDigest(b []byte) string { return verify.Digest(b) }

func verifyDigestHex(b []byte) string { return strings.TrimPrefix(verify.Digest(b), "sha256:") }

func bytesEqualFile(t *testing.T, path string, want []byte) bool {
	t.Helper()
	return bytes.Equal(mustRead(t, path), want)
}

// smallParts writes a bundle of one 300 KiB layer at dir/b.tar.zst in parts of 128 KiB (three
// data parts) with parity parts.
func smallParts(t *testing.T, dir string, parity int) string {
	t.Helper()
	path := filepath.Join(dir, "b.tar.zst")
	writeParts(t, path, [][]byte{randomBytes(t, 300<<10)}, archive.WithParts(128<<10, parity))
	if _, err := os.Stat(parts.DataName(path, 2)); err != nil {
		t.Fatalf("the fixture should have three parts: %v", err)
	}
	return path
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
