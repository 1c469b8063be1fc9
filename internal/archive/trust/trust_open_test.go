package trust

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// TestSetOpenParts: with every part required (push, verify) a missing part refuses the
// bundle, naming it; without (list), the bundle opens from its first and last parts and says
// which are missing, and a read that reaches a missing part fails naming it; a missing first
// part is the parts' error, not an unreadable manifest.
func TestSetOpenParts(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	ctx := context.Background()
	b, bad, err := mustFind(t, Trust{}, path).Open(ctx, true)
	if err != nil || len(bad) != 0 {
		t.Fatalf("all parts: %v, %v", bad, err)
	}
	blob := b.Manifest().Blobs[0].Digest
	b.Close()

	os.Rename(parts.DataName(path, 1), path+".elsewhere")
	var pe *parts.Error
	if b, bad, err := mustFind(t, Trust{}, path).Open(ctx, true); b != nil || !errors.As(err, &pe) || len(bad) != 1 || bad[0].Name != "b.tar.zst.002" {
		t.Fatalf("every part required, one missing: %v, %v", bad, err)
	}
	if !pe.Rebuildable() || !strings.Contains(pe.Error(), "run unbundle repair") {
		t.Fatalf("the error: %v", pe)
	}
	b, bad, err = mustFind(t, Trust{}, path).Open(ctx, false)
	if err != nil || len(bad) != 1 || bad[0].Problem != "missing" {
		t.Fatalf("for a list, one part missing: %v, %v", bad, err)
	}
	if b.Manifest().Totals.Blobs != 1 {
		t.Fatal("the manifest was not read")
	}
	if _, err := b.ReadFile(archive.BlobName(blob)); !errors.Is(err, archive.ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002 is missing") {
		t.Fatalf("reading across the missing part: %v", err)
	}
	b.Close()

	os.Rename(path+".elsewhere", parts.DataName(path, 1))
	os.Remove(parts.DataName(path, 0))
	if b, _, err := mustFind(t, Trust{}, path).Open(ctx, false); b != nil || !errors.As(err, &pe) || pe.Bad[0].Name != "b.tar.zst.001" {
		t.Fatalf("the first part missing: %v", err)
	}
}
