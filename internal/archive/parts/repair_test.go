package parts_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRepairRefuses: a bundle in one file, or parts without their checksum file, cannot be
// repaired, and Repair says why; parts that are all good are left alone, nothing written.
func TestRepairRefuses(t *testing.T) {
	whole, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1000))
	if _, err := parts.Repair(context.Background(), &mustFind(t, trust.Trust{}, whole).Set, t.TempDir(), nil); !errors.Is(err, parts.ErrCorrupt) ||
		!strings.Contains(err.Error(), "one file, not parts") {
		t.Fatalf("one file: %v", err)
	}
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	before := dirNames(t, dir)
	var c byteCounter
	wrote, err := parts.Repair(context.Background(), &mustFind(t, trust.Trust{}, path).Set, dir, &c)
	if err != nil || wrote != nil {
		t.Fatalf("all good: %v, %v", wrote, err)
	}
	if after := dirNames(t, dir); !slices.Equal(before, after) || c.n.Load() == 0 {
		t.Fatalf("all good: the directory went from %v to %v; %d bytes counted", before, after, c.n.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	os.Remove(parts.DataName(path, 0))
	if _, err := parts.Repair(ctx, &mustFind(t, trust.Trust{}, path).Set, dir, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a stopped context: %v", err)
	}
	os.Remove(path + ".sha256")
	if _, err := parts.Repair(context.Background(), &mustFind(t, trust.Trust{}, path).Set, dir, nil); !errors.Is(err, parts.ErrCorrupt) ||
		!strings.Contains(err.Error(), "no checksum file (b.tar.zst.sha256)") {
		t.Fatalf("no checksum file: %v", err)
	}
}

// TestRepairKeepsDamaged: a damaged part is rebuilt in place; the damaged file is kept beside
// it, under a name that takes nothing else's; the repaired bundle verifies.
func TestRepairKeepsDamaged(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	good := mustRead(t, parts.DataName(path, 1))
	for round, want := range []string{".damaged", ".damaged.1"} {
		flip(t, parts.DataName(path, 1), int64(100+round))
		damaged := mustRead(t, parts.DataName(path, 1))
		wrote, err := parts.Repair(context.Background(), &mustFind(t, trust.Trust{}, path).Set, dir, nil)
		if err != nil || len(wrote) != 1 || wrote[0].Path != parts.DataName(path, 1) || wrote[0].Kept != parts.DataName(path, 1)+want {
			t.Fatalf("round %d: %+v, %v", round, wrote, err)
		}
		if !bytes.Equal(mustRead(t, parts.DataName(path, 1)), good) || !bytes.Equal(mustRead(t, wrote[0].Kept), damaged) {
			t.Fatalf("round %d: the part is not rebuilt, or the damaged file not kept", round)
		}
	}
	if _, err := trust.Verify(context.Background(), path, nil); err != nil {
		t.Fatalf("after the repairs: %v", err)
	}
	for _, n := range dirNames(t, dir) {
		if strings.Contains(n, ".rebuild") {
			t.Errorf("a temporary file is left: %s", n)
		}
	}
}

// TestKeepAside: a file at the rebuilt part's place that matches its sha256 stays; any other
// is renamed, never over another kept file.
func TestKeepAside(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "b.tar.zst.002")
	sum := verifyDigestHex([]byte("right"))
	if kept, same, err := parts.KeepAside(dst, sum); kept != "" || same || err != nil {
		t.Fatalf("nothing there: %q, %v, %v", kept, same, err)
	}
	os.WriteFile(dst, []byte("right"), 0o644)
	if kept, same, err := parts.KeepAside(dst, sum); kept != "" || !same || err != nil {
		t.Fatalf("the right bytes there: %q, %v, %v", kept, same, err)
	}
	for i, want := range []string{dst + ".damaged", dst + ".damaged.1", dst + ".damaged.2"} {
		os.WriteFile(dst, []byte{'w', byte(i)}, 0o644)
		kept, same, err := parts.KeepAside(dst, sum)
		if kept != want || same || err != nil {
			t.Fatalf("wrong bytes %d: %q, %v, %v", i, kept, same, err)
		}
		if got := mustRead(t, kept); !bytes.Equal(got, []byte{'w', byte(i)}) {
			t.Fatalf("%s holds %q", kept, got)
		}
		if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the damaged file is still at its place: %v", err)
		}
	}
}
