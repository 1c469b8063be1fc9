package trust

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// TestOpenSetParts: parts are read without the checksum file too (their sizes from the files),
// but not without the last; a part found twice must be settled first; a Set must come from
// Find.
func TestOpenSetParts(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 0)
	if _, err := OpenSet(&Set{Set: parts.Set{Name: "b.tar.zst", Whole: path}}); err == nil || !strings.Contains(err.Error(), "must come from Find") {
		t.Fatalf("a Set not from Find: %v", err)
	}
	os.Remove(path + ".sha256")
	b, err := OpenSet(mustFind(t, Trust{}, path))
	if err != nil {
		t.Fatalf("without the checksum file: %v", err)
	}
	if res, err := b.Verify(context.Background(), nil); err != nil || len(res.Bad) != 0 {
		t.Fatalf("Verify without the checksum file: %+v, %v", res, err)
	}
	b.Close()
	other := t.TempDir()
	copyFile(t, parts.DataName(path, 1), parts.DataName(filepath.Join(other, "b.tar.zst"), 1))
	s := mustFind(t, Trust{}, dir, other)
	if _, err := OpenSet(s); !errors.Is(err, parts.ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002 was found twice") {
		t.Fatalf("a part found twice: %v", err)
	}
	// Without the checksum file, parts end where the files found end: the last missing, the
	// bundle has no footer.
	os.Remove(parts.DataName(path, 2))
	if _, err := OpenSet(mustFind(t, Trust{}, path)); !errors.Is(err, parts.ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst (in parts)") {
		t.Fatalf("the last part missing, no checksum file: %v", err)
	}
}
