package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for path, want := range map[string][2]string{
		"d/b.tar.zst":            {"d/b.tar.zst", ""},
		"d/b.tar.zst.001":        {"d/b.tar.zst", "001"},
		"d/b.tar.zst.p02":        {"d/b.tar.zst", "p02"},
		"d/b.tar.zst.sha256":     {"d/b.tar.zst", ""},
		"d/b.tar.zst.sha256.sig": {"d/b.tar.zst", ""},
		"d/b.tar.zst.partial":    {"d/b.tar.zst.partial", ""},
		"d/b.tar.zst.01":         {"d/b.tar.zst.01", ""},
		".001":                   {".001", ""},
	} {
		if base, idx := classify(path); base != want[0] || idx != want[1] {
			t.Errorf("classify(%q) = %q, %q; want %q, %q", path, base, idx, want[0], want[1])
		}
	}
}

// smallParts writes a bundle of one 300 KiB layer at dir/b.tar.zst in parts of 128 KiB (three
// data parts) with parity parts.
func smallParts(t *testing.T, dir string, parity int) string {
	t.Helper()
	path := filepath.Join(dir, "b.tar.zst")
	writeParts(t, path, [][]byte{randomBytes(t, 300<<10)}, WithParts(128<<10, parity))
	if _, err := os.Stat(partName(path, 2)); err != nil {
		t.Fatalf("the fixture should have three parts: %v", err)
	}
	return path
}

// TestLocate: the bundle is found from whatever names it (a part, the checksum file, the
// directory, NAME.tar.zst of parts, a glob the shell did not expand), parts spread over
// several directories are gathered, a part found twice is kept twice (to be settled), the same
// file reached twice once, and a listed part not found is a hole in the list.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	for _, arg := range []string{path, partName(path, 1), parityName(path, 0), path + ".sha256", dir, path + ".0*"} {
		s, err := locate(arg)
		if err != nil {
			t.Fatalf("locate(%s): %v", arg, err)
		}
		if s.Name != "b.tar.zst" || !s.Split() || len(s.Data) != 3 || len(s.Parity) != 1 || s.Sums == nil || s.SumsPath != path+".sha256" || s.Dir() != dir {
			t.Fatalf("locate(%s) = %+v", arg, s)
		}
		for i, l := range s.Data {
			if len(l) != 1 || l[0] != partName(path, i) {
				t.Fatalf("locate(%s): part %d at %v", arg, i+1, l)
			}
		}
	}

	// Parts carried on two media; the checksum file on the second.
	m1, m2 := t.TempDir(), t.TempDir()
	for i, to := range []string{m1, m2, m2} {
		copyFile(t, partName(path, i), partName(filepath.Join(to, "b.tar.zst"), i))
	}
	copyFile(t, path+".sha256", filepath.Join(m2, "b.tar.zst.sha256"))
	s, err := locate(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != m2 || len(s.Data) != 3 || s.Data[0][0] != partName(filepath.Join(m1, "b.tar.zst"), 0) || len(s.Parity) != 1 || s.Parity[0] != nil {
		t.Fatalf("two media: %+v", s)
	}
	// A part found on both media is kept twice; a symlink to a part found is the same file.
	copyFile(t, partName(path, 1), partName(filepath.Join(m1, "b.tar.zst"), 1))
	os.Symlink(partName(filepath.Join(m2, "b.tar.zst"), 2), partName(filepath.Join(m1, "b.tar.zst"), 2))
	s, err = locate(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data[1]) != 2 || len(s.Data[2]) != 1 {
		t.Fatalf("copies: part 2 at %v, part 3 at %v", s.Data[1], s.Data[2])
	}

	// The joined file named as such is that file, even with its parts beside it.
	whole := filepath.Join(dir, "b.tar.zst")
	os.WriteFile(whole, []byte("joined"), 0o644)
	if s, err := locate(whole); err != nil || s.Whole != whole || s.Split() {
		t.Fatalf("the joined file: %+v, %v", s, err)
	}
}

// TestLocateRefuses: what names no bundle, or two, or parts that do not fit the checksum file
// beside them, is refused saying so.
func TestLocateRefuses(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 0)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644)
	two := t.TempDir()
	for _, n := range []string{"a.tar.zst", "b.tar.zst"} {
		os.WriteFile(filepath.Join(two, n), []byte("x"), 0o644)
	}
	for _, tc := range []struct {
		name string
		args []string
		is   error
		want string
	}{
		{"nothing there", []string{filepath.Join(empty, "c.tar.zst")}, fs.ErrNotExist, "nor c.tar.zst.001 beside it"},
		{"no bundle in the directory", []string{empty}, fs.ErrNotExist, "no bundle (NAME.tar.zst or NAME.tar.zst.001) in this directory"},
		{"a glob of nothing", []string{filepath.Join(empty, "*.tar.zst")}, fs.ErrNotExist, "no file matches"},
		{"two bundles", []string{two}, nil, "a.tar.zst and b.tar.zst are two bundles: name one"},
		{"two bundles named", []string{path, filepath.Join(two, "a.tar.zst")}, nil, "are two bundles"},
		{"no argument", nil, fs.ErrNotExist, "no bundle given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := locate(tc.args...)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v saying %q", err, tc.is, tc.want)
			}
		})
	}

	// A part more than the checksum file lists (an older bundle's).
	copyFile(t, partName(path, 2), partName(path, 3))
	if _, err := locate(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "remove the parts of an older bundle") {
		t.Fatalf("a fourth part: %v", err)
	}
	os.Remove(partName(path, 3))
	// The checksum file of one file beside parts.
	os.WriteFile(path+".sha256", (&Sums{Name: "b.tar.zst", SHA256: hexOf("x"), Size: 5}).Marshal(), 0o644)
	if _, err := locate(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "describes one file") {
		t.Fatalf("parts beside a one-file checksum file: %v", err)
	}
	// The checksum file of another bundle under this name.
	os.WriteFile(path+".sha256", (&Sums{Name: "c.tar.zst", SHA256: hexOf("x"), Size: 5}).Marshal(), 0o644)
	if _, err := locate(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "is the checksum file of c.tar.zst") {
		t.Fatalf("another bundle's checksum file: %v", err)
	}
}

// TestOpenSetParts: parts are read without the checksum file too (their sizes from the files),
// but not without the last; a part found twice must be settled first; a Set must come from
// Find.
func TestOpenSetParts(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 0)
	if _, err := OpenSet(&Set{Name: "b.tar.zst", Whole: path}); err == nil || !strings.Contains(err.Error(), "must come from Find") {
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
	copyFile(t, partName(path, 1), partName(filepath.Join(other, "b.tar.zst"), 1))
	s := mustFind(t, Trust{}, dir, other)
	if _, err := OpenSet(s); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst.002 was found twice") {
		t.Fatalf("a part found twice: %v", err)
	}
	// Without the checksum file, parts end where the files found end: the last missing, the
	// bundle has no footer.
	os.Remove(partName(path, 2))
	if _, err := OpenSet(mustFind(t, Trust{}, path)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "b.tar.zst (in parts)") {
		t.Fatalf("the last part missing, no checksum file: %v", err)
	}
}
