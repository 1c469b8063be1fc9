package parts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

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
	// writeTestBundle writes a small valid bundle of the given layers at dir/b.tar.zst.
	writeTestBundle = testbundle.WriteLayers
	writeParts      = testbundle.WriteParts
)

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
