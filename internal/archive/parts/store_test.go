package parts

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPartNames(t *testing.T) {
	if got := DataName("/m/b.tar.zst", 0); got != "/m/b.tar.zst.001" {
		t.Errorf("partName 0 = %q", got)
	}
	if got := DataName("b.tar.zst", 998); got != "b.tar.zst.999" {
		t.Errorf("partName 998 = %q", got)
	}
	if got := ParityName("b.tar.zst", 11); got != "b.tar.zst.p12" {
		t.Errorf("parityName 11 = %q", got)
	}
	for _, tc := range []struct {
		suffix     string
		i          int
		parity, ok bool
	}{
		{"001", 0, false, true}, {"010", 9, false, true}, {"999", 998, false, true},
		{"p01", 0, true, true}, {"p12", 11, true, true}, {"p256", 255, true, true},
		{"01", 0, false, false}, {"p1", 0, false, false}, {"000", 0, false, false}, {"p00", 0, false, false},
		{"+01", 0, false, false}, {"-01", 0, false, false}, {"001a", 0, false, false}, {"0x1", 0, false, false},
		{"sha256", 0, false, false}, {"partial", 0, false, false}, {"", 0, false, false}, {"p", 0, false, false},
	} {
		i, parity, ok := partIndex(tc.suffix)
		if ok != tc.ok || (ok && (i != tc.i || parity != tc.parity)) {
			t.Errorf("partIndex(%q) = %d, %v, %v; want %d, %v, %v", tc.suffix, i, parity, ok, tc.i, tc.parity, tc.ok)
		}
	}
	for _, tc := range []struct {
		size, part int64
		want       int
	}{{100, 0, 1}, {0, 10, 1}, {10, 10, 1}, {11, 10, 2}, {25, 10, 3}, {30, 10, 3}} {
		if got := Count(tc.size, tc.part); got != tc.want {
			t.Errorf("Count(%d, %d) = %d, want %d", tc.size, tc.part, got, tc.want)
		}
	}
	if got := Names("b", 25, 10); !slices.Equal(got, []string{"b.001", "b.002", "b.003"}) {
		t.Errorf("storeNames in parts = %v", got)
	}
	if got := Names("b", 25, 0); !slices.Equal(got, []string{"b"}) {
		t.Errorf("storeNames of one file = %v", got)
	}
}

// TestFilesAcrossParts: the parts read and write as one file: every range, across the part
// boundaries, is the joined bytes; a write lands in the parts, each of its size.
func TestFilesAcrossParts(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b.tar.zst")
	joined := []byte("0123456789abcdefghijKLMNO") // 25 bytes: parts of 10, 10, 5
	w, err := Create(base, 25, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.WriteAt(joined[3:22], 3); n != 19 || err != nil {
		t.Fatalf("WriteAt across parts: %d, %v", n, err)
	}
	w.WriteAt(joined[:3], 0)
	w.WriteAt(joined[22:], 22)
	if _, err := w.WriteAt([]byte("xy"), 24); err == nil || !strings.Contains(err.Error(), "outside the bundle's 25 bytes") {
		t.Fatalf("a write past the end: %v", err)
	}
	if _, err := w.WriteAt([]byte("x"), -1); err == nil {
		t.Fatal("a write before the start")
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for i, want := range []string{"0123456789", "abcdefghij", "KLMNO"} {
		if got := string(mustRead(t, DataName(base, i))); got != want {
			t.Fatalf("part %d holds %q, want %q", i+1, got, want)
		}
	}
	r := openParts(t, base, 3, 10, 25)
	defer r.Close()
	for off := range 25 {
		for n := 0; off+n <= 25; n += 3 {
			p := make([]byte, n)
			if got, err := r.ReadAt(p, int64(off)); got != n || err != nil || !bytes.Equal(p, joined[off:off+n]) {
				t.Fatalf("ReadAt(%d, %d) = %d %q, %v", off, n, got, p, err)
			}
		}
	}
	p := make([]byte, 10)
	if n, err := r.ReadAt(p, 20); n != 5 || err != io.EOF || string(p[:5]) != "KLMNO" {
		t.Fatalf("a read past the end: %d, %v", n, err)
	}
	if n, err := r.ReadAt(p, 25); n != 0 || err != io.EOF {
		t.Fatalf("a read at the end: %d, %v", n, err)
	}
	if _, err := r.ReadAt(p, -1); err == nil {
		t.Fatal("a read before the start")
	}
}

// openParts opens n parts of base for reading as files of partSize, size bytes in all.
func openParts(t *testing.T, base string, n int, partSize, size int64) *Store {
	t.Helper()
	s := &Store{partSize: partSize, size: size}
	for i := range n {
		name := DataName(base, i)
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			f = nil
		} else if err != nil {
			t.Fatal(err)
		}
		s.f, s.names = append(s.f, f), append(s.names, name)
	}
	return s
}

// TestFilesMissingPart: a read that reaches a part that is missing, or shorter than its size,
// fails as corrupt naming the part; reads of the other parts go on.
func TestFilesMissingPart(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(base, 25, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt(bytes.Repeat([]byte{'x'}, 25), 0)
	w.Close()
	os.Remove(DataName(base, 1))
	os.Truncate(DataName(base, 2), 3)
	r := openParts(t, base, 3, 10, 25)
	defer r.Close()
	p := make([]byte, 10)
	if n, err := r.ReadAt(p, 0); n != 10 || err != nil {
		t.Fatalf("the first part: %d, %v", n, err)
	}
	if _, err := r.ReadAt(p, 5); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "part b.tar.zst.002 is missing") {
		t.Fatalf("into the missing part: %v", err)
	}
	if _, err := r.ReadAt(p[:5], 20); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "part b.tar.zst.003 ends at byte 3, 2 bytes short (truncated?)") {
		t.Fatalf("into the truncated part: %v", err)
	}
}

// TestCreateFilesKeeps: createFiles without truncate keeps what the files hold (a resumed
// run), with it empties them; every part but the last is its full size at once.
func TestCreateFilesKeeps(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b.tar.zst")
	w, _ := Create(base, 25, 10, true)
	if st, err := os.Stat(DataName(base, 0)); err != nil || st.Size() != 10 {
		t.Fatalf("a new first part: %v, %v", st, err)
	}
	w.WriteAt([]byte("kept"), 12)
	w.Close()
	w, _ = Create(base, 25, 10, false)
	p := make([]byte, 4)
	w.ReadAt(p, 12)
	w.Close()
	if string(p) != "kept" {
		t.Fatalf("reopened without truncating: %q", p)
	}
	w, _ = Create(base, 25, 10, true)
	w.ReadAt(p, 12)
	w.Close()
	if !bytes.Equal(p, make([]byte, 4)) {
		t.Fatalf("reopened truncating: %q", p)
	}
}

// TestStoreFiles: the files of a bundle are it and its data and parity parts: not its checksum
// file, its checkpoint or another bundle's; renameStore and removeStore move and remove those
// alone, removeStore keeping what it is told; names with glob characters are taken as they are.
func TestStoreFiles(t *testing.T) {
	for _, dirName := range []string{"plain", "with [brackets] and *"} {
		t.Run(dirName, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), dirName)
			os.Mkdir(dir, 0o755)
			base := filepath.Join(dir, "b.tar.zst")
			mine := []string{base, base + ".001", base + ".002", base + ".p01"}
			others := []string{base + ".sha256", base + ".partial", base + ".partial.sum", filepath.Join(dir, "c.tar.zst.001"), base + ".01"}
			for _, p := range append(slices.Clone(mine), others...) {
				os.WriteFile(p, []byte(p), 0o644)
			}
			if got := Files(base); !sameSet(got, mine) {
				t.Fatalf("storeFiles = %v, want %v", got, mine)
			}
			moved := filepath.Join(dir, "m.tar.zst")
			if err := Rename(base, moved); err != nil {
				t.Fatal(err)
			}
			if got := Files(base); len(got) != 0 {
				t.Fatalf("left after renameStore: %v", got)
			}
			if got := string(mustRead(t, moved+".002")); got != base+".002" {
				t.Fatalf("m.tar.zst.002 holds %q", got)
			}
			Remove(moved, moved+".001")
			if got := Files(moved); !slices.Equal(got, []string{moved + ".001"}) {
				t.Fatalf("after removeStore keeping .001: %v", got)
			}
			for _, p := range others {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s was touched: %v", filepath.Base(p), err)
				}
			}
		})
	}
	if got := globEscape(`a*b?[c]\d`); got != `a\*b\?\[c]\\d` {
		t.Errorf("globEscape = %q", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
