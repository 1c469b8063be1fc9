package parts_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
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
		if base, idx := parts.Classify(path); base != want[0] || idx != want[1] {
			t.Errorf("parts.Classify(%q) = %q, %q; want %q, %q", path, base, idx, want[0], want[1])
		}
	}
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

// TestLocate: the bundle is found from whatever names it (a part, the checksum file, the
// directory, NAME.tar.zst of parts, a glob the shell did not expand), parts spread over
// several directories are gathered, a part found twice is kept twice (to be settled), the same
// file reached twice once, and a listed part not found is a hole in the list.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	for _, arg := range []string{path, parts.DataName(path, 1), parts.ParityName(path, 0), path + ".sha256", dir, path + ".0*"} {
		s, err := parts.Locate(arg)
		if err != nil {
			t.Fatalf("parts.Locate(%s): %v", arg, err)
		}
		if s.Name != "b.tar.zst" || !s.Split() || len(s.Data) != 3 || len(s.Parity) != 1 || s.Sums == nil || s.SumsPath != path+".sha256" || s.Dir() != dir {
			t.Fatalf("parts.Locate(%s) = %+v", arg, s)
		}
		for i, l := range s.Data {
			if len(l) != 1 || l[0] != parts.DataName(path, i) {
				t.Fatalf("parts.Locate(%s): part %d at %v", arg, i+1, l)
			}
		}
	}

	// Parts carried on two media; the checksum file on the second.
	m1, m2 := t.TempDir(), t.TempDir()
	for i, to := range []string{m1, m2, m2} {
		copyFile(t, parts.DataName(path, i), parts.DataName(filepath.Join(to, "b.tar.zst"), i))
	}
	copyFile(t, path+".sha256", filepath.Join(m2, "b.tar.zst.sha256"))
	s, err := parts.Locate(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != m2 || len(s.Data) != 3 || s.Data[0][0] != parts.DataName(filepath.Join(m1, "b.tar.zst"), 0) || len(s.Parity) != 1 || s.Parity[0] != nil {
		t.Fatalf("two media: %+v", s)
	}
	// A part found on both media is kept twice; a symlink to a part found is the same file.
	copyFile(t, parts.DataName(path, 1), parts.DataName(filepath.Join(m1, "b.tar.zst"), 1))
	os.Symlink(parts.DataName(filepath.Join(m2, "b.tar.zst"), 2), parts.DataName(filepath.Join(m1, "b.tar.zst"), 2))
	s, err = parts.Locate(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data[1]) != 2 || len(s.Data[2]) != 1 {
		t.Fatalf("copies: part 2 at %v, part 3 at %v", s.Data[1], s.Data[2])
	}

	// The joined file named as such is that file, even with its parts beside it.
	whole := filepath.Join(dir, "b.tar.zst")
	os.WriteFile(whole, []byte("joined"), 0o644)
	if s, err := parts.Locate(whole); err != nil || s.Whole != whole || s.Split() {
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
			_, err := parts.Locate(tc.args...)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v saying %q", err, tc.is, tc.want)
			}
		})
	}

	// A part more than the checksum file lists (an older bundle's).
	copyFile(t, parts.DataName(path, 2), parts.DataName(path, 3))
	if _, err := parts.Locate(path); !errors.Is(err, parts.ErrCorrupt) || !strings.Contains(err.Error(), "remove the parts of an older bundle") {
		t.Fatalf("a fourth part: %v", err)
	}
	os.Remove(parts.DataName(path, 3))
	// The checksum file of one file beside parts.
	os.WriteFile(path+".sha256", (&parts.Sums{Name: "b.tar.zst", SHA256: hexOf("x"), Size: 5}).Marshal(), 0o644)
	if _, err := parts.Locate(path); !errors.Is(err, parts.ErrCorrupt) || !strings.Contains(err.Error(), "describes one file") {
		t.Fatalf("parts beside a one-file checksum file: %v", err)
	}
	// The checksum file of another bundle under this name.
	os.WriteFile(path+".sha256", (&parts.Sums{Name: "c.tar.zst", SHA256: hexOf("x"), Size: 5}).Marshal(), 0o644)
	if _, err := parts.Locate(path); !errors.Is(err, parts.ErrCorrupt) || !strings.Contains(err.Error(), "is the checksum file of c.tar.zst") {
		t.Fatalf("another bundle's checksum file: %v", err)
	}
}
