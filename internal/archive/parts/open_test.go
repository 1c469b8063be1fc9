package parts

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// partsIn writes the given parts of dir/b.tar.zst (nil: that part is not written) and returns
// the Set Locate would give for them without a checksum file.
func partsIn(t *testing.T, contents ...[]byte) *Set {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "b.tar.zst")
	s := &Set{Name: "b.tar.zst", dirs: []string{dir}}
	for i, c := range contents {
		var found []string
		if c != nil {
			if err := os.WriteFile(DataName(base, i), c, 0o644); err != nil {
				t.Fatal(err)
			}
			found = []string{DataName(base, i)}
		}
		s.Data = append(s.Data, found)
	}
	return s
}

func readAll(t *testing.T, st *Store) string {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(st, 0, st.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOpenStoreSizes: without a checksum file the size of the parts comes from the files:
// every part but the last is as large as the first, whatever the last holds.
func TestOpenStoreSizes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		parts          []string
		partSize, size int64
	}{
		{"three", []string{"0123456789", "abcdefghij", "KLMNO"}, 10, 25},
		{"last full", []string{"0123", "4567"}, 4, 8},
		{"last one byte", []string{"0123", "4"}, 4, 5},
		{"one part", []string{"0123456"}, 7, 7},
		{"one empty part", []string{""}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var contents [][]byte
			for _, p := range tc.parts {
				contents = append(contents, []byte(p))
			}
			st, err := partsIn(t, contents...).OpenStore()
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.PartSize() != tc.partSize || st.Size() != tc.size || !st.Split() {
				t.Fatalf("part size %d, size %d, split %v; want %d, %d, true", st.PartSize(), st.Size(), st.Split(), tc.partSize, tc.size)
			}
			if got, want := readAll(t, st), strings.Join(tc.parts, ""); got != want {
				t.Errorf("the joined parts read %q, want %q", got, want)
			}
		})
	}
}

// TestOpenStoreSums: with a checksum file its sizes count, not the files' (a short part is
// then found short when read).
func TestOpenStoreSums(t *testing.T) {
	s := partsIn(t, []byte("0123456789"), []byte("abc"))
	s.Sums = &Sums{Name: s.Name, PartSize: 10, Size: 15, Parts: []string{"", ""}}
	s.SumsPath = filepath.Join(s.dirs[0], "b.tar.zst.sha256")
	st, err := s.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.PartSize() != 10 || st.Size() != 15 {
		t.Fatalf("part size %d, size %d; want the checksum file's 10, 15", st.PartSize(), st.Size())
	}
	p := make([]byte, 5)
	if _, err := st.ReadAt(p, 10); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002") {
		t.Fatalf("a read into the short part: %v", err)
	}
}

// TestOpenStoreMissing: a missing part in the middle is left out (reads reaching it fail,
// naming it, where it belongs); the last one missing without a checksum file leaves the size
// unknown and is refused, naming it.
func TestOpenStoreMissing(t *testing.T) {
	s := partsIn(t, []byte("0123456789"), nil, []byte("KLMNO"))
	st, err := s.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Size() != 25 {
		t.Fatalf("size %d, want 25 (the missing part counted as full)", st.Size())
	}
	if want := filepath.Join(s.dirs[0], "b.tar.zst.002"); st.Names()[1] != want {
		t.Errorf("the missing part's name is %q, want %q", st.Names()[1], want)
	}
	p := make([]byte, 10)
	if n, err := st.ReadAt(p[:5], 20); n != 5 || err != nil || string(p[:5]) != "KLMNO" {
		t.Errorf("the last part reads %d %q, %v", n, p[:5], err)
	}
	if _, err := st.ReadAt(p, 12); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002") {
		t.Errorf("a read into the missing part: %v", err)
	}

	_, err = partsIn(t, []byte("0123456789"), []byte("abcdefghij"), nil).OpenStore()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.003: the last part is missing") {
		t.Fatalf("the last part missing, no checksum file: %v", err)
	}
}

// TestOpenStoreTwice: a part found in two files is refused until it is settled, naming both.
func TestOpenStoreTwice(t *testing.T) {
	s := partsIn(t, []byte("0123"), []byte("45"))
	other := filepath.Join(t.TempDir(), "b.tar.zst.002")
	if err := os.WriteFile(other, []byte("xy"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Data[1] = append(s.Data[1], other)
	_, err := s.OpenStore()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002 was found twice") || !strings.Contains(err.Error(), other) {
		t.Fatalf("a part found twice: %v", err)
	}
}

// TestOpenStoreWhole: a bundle in one file is that file; one that cannot be opened is the
// operating system's error, naming it; a part that cannot be opened likewise.
func TestOpenStoreWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	if err := os.WriteFile(path, []byte("whole bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := (&Set{Name: "b.tar.zst", Whole: path, dirs: []string{dir}}).OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	if st.Split() || st.Size() != 12 || st.PartSize() != 12 || readAll(t, st) != "whole bundle" {
		t.Errorf("one file: split %v, size %d, part size %d", st.Split(), st.Size(), st.PartSize())
	}
	st.Close()

	gone := filepath.Join(dir, "gone.tar.zst")
	if _, err := (&Set{Name: "gone.tar.zst", Whole: gone, dirs: []string{dir}}).OpenStore(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), gone) {
		t.Errorf("a missing bundle file: %v", err)
	}

	s := partsIn(t, []byte("0123"), []byte("45"))
	s.Data[0] = []string{filepath.Join(s.dirs[0], "vanished.001")}
	if _, err := s.OpenStore(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "vanished.001") {
		t.Errorf("a part gone between Locate and OpenStore: %v", err)
	}
}
