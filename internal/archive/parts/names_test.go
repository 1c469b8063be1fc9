package parts

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPartIndexOnlyOurNames: a suffix is a part's only when it is the name this package writes
// for it (DataName, ParityName): three digits up to MaxData, p and two or three digits up to
// MaxShards. A stray file beside the bundle (b.tar.zst.0001, .1000, .p257, .999999999) is no
// part: it would otherwise be taken for part 1 a second time, or make Locate allocate a list
// as long as the number it carries.
func TestPartIndexOnlyOurNames(t *testing.T) {
	for _, suffix := range []string{
		"0001", "1000", "999999999", "9223372036854775807", "99999999999999999999",
		"p001", "p257", "p999", "p0001", "p99999999",
		" 01", "0 1", "1e3", "٠٠١", // spaces, an exponent, Arabic-Indic digits
	} {
		if i, parity, ok := partIndex(suffix); ok {
			t.Errorf("partIndex(%q) = %d, %v, true; want not a part", suffix, i, parity)
		}
	}
	// Every name this package writes parses back to its index, the largest included.
	for _, i := range []int{0, 9, 99, MaxData - 1} {
		if got, parity, ok := partIndex(strings.TrimPrefix(DataName("b", i), "b.")); !ok || parity || got != i {
			t.Errorf("DataName(%d) parses to %d, %v, %v", i, got, parity, ok)
		}
	}
	for _, i := range []int{0, 9, 98, 99, MaxShards - 1} {
		if got, parity, ok := partIndex(strings.TrimPrefix(ParityName("b", i), "b.")); !ok || !parity || got != i {
			t.Errorf("ParityName(%d) parses to %d, %v, %v", i, got, parity, ok)
		}
	}
}

// TestFilesIgnoresStrays: Files lists the bundle and the parts it wrote, nothing else that
// happens to share the name: look-alike suffixes, a directory named as the bundle, a bundle
// whose name holds glob characters does not catch its neighbours'.
func TestFilesIgnoresStrays(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b[1].tar.zst")
	mine := []string{base, base + ".001", base + ".999", base + ".p01", base + ".p100"}
	strays := []string{
		base + ".0001", base + ".1000", base + ".999999999", base + ".p257", base + ".p001",
		base + ".001.bak", base + ".sha256", base + ".sha256.sig",
		filepath.Join(dir, "b1.tar.zst.001"), // what the unescaped glob b[1] would match
	}
	for _, p := range append(slices.Clone(mine), strays...) {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := Files(base); !sameSet(got, mine) {
		t.Errorf("Files = %v, want %v", got, mine)
	}

	// A directory named as the bundle is not the bundle; a symlink to one is.
	d2 := t.TempDir()
	asDir := filepath.Join(d2, "c.tar.zst")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Files(asDir); len(got) != 0 {
		t.Errorf("Files of a directory = %v, want none", got)
	}
	link := filepath.Join(d2, "l.tar.zst")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	if got := Files(link); !slices.Equal(got, []string{link}) {
		t.Errorf("Files of a symlink = %v, want [%s]", got, link)
	}
	if got := Files(filepath.Join(d2, "none.tar.zst")); len(got) != 0 {
		t.Errorf("Files of nothing = %v", got)
	}
}

// TestLocateStrayHugeSuffix: a stray file whose suffix is a large number does not become a
// part (Locate lists exactly the parts there are).
func TestLocateStrayHugeSuffix(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.tar.zst")
	for _, p := range []string{DataName(base, 0), DataName(base, 1), base + ".5000", base + ".0002"} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Locate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data) != 2 || len(s.Parity) != 0 {
		t.Fatalf("Locate found %d data parts, %d parity parts; want 2, 0", len(s.Data), len(s.Parity))
	}
	for i, l := range s.Data {
		if len(l) != 1 || l[0] != DataName(base, i) {
			t.Errorf("part %d found as %v", i+1, l)
		}
	}
}

// TestNamesCover: the data parts Names lists are Count many, in order, and cover size bytes
// exactly: every part but the last is full, the last holds at least one byte.
func TestNamesCover(t *testing.T) {
	for _, tc := range []struct{ size, part int64 }{{1, 1}, {9, 10}, {10, 10}, {11, 10}, {1 << 40, 1 << 30}, {5, 1}} {
		names := Names("b", tc.size, tc.part)
		n := Count(tc.size, tc.part)
		if len(names) != n {
			t.Fatalf("Names(%d, %d) has %d names, Count says %d", tc.size, tc.part, len(names), n)
		}
		if full := int64(n-1) * tc.part; full >= tc.size || full+tc.part < tc.size {
			t.Errorf("Count(%d, %d) = %d parts do not cover the bytes exactly", tc.size, tc.part, n)
		}
		for i, name := range names {
			if name != DataName("b", i) {
				t.Errorf("Names(%d, %d)[%d] = %q", tc.size, tc.part, i, name)
			}
		}
	}
	if got, want := SigPath("/m/b.tar.zst"), "/m/b.tar.zst.sha256.sig"; got != want || SumsPath("/m/b.tar.zst")+".sig" != got {
		t.Errorf("SigPath = %q, want %q", got, want)
	}
}

// TestRenameFails: Rename reports the first file it cannot move (here: the target's directory
// is gone), naming it.
func TestRenameFails(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "b.tar.zst")
	for _, p := range []string{DataName(base, 0), DataName(base, 1)} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := Rename(base, filepath.Join(dir, "gone", "m.tar.zst"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "b.tar.zst.001") {
		t.Fatalf("Rename into a missing directory: %v", err)
	}
	if got := Files(base); len(got) != 2 {
		t.Errorf("after the failed Rename the parts are %v, want both still there", got)
	}
}
