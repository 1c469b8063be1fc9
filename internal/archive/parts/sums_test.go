package parts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSumsRoundTrip: what Marshal writes, parseSums reads back as it was, for a bundle in one
// file and one in parts with parity, signed or not; the file is in sha256sum's format.
func TestSumsRoundTrip(t *testing.T) {
	signed := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, s := range []*Sums{
		{Name: "b.tar.zst", SHA256: hexOf("whole"), Size: 1000, Table: "sha256:" + hexOf("table")},
		{Name: "b.tar.zst", SHA256: hexOf("whole"), Size: 1000, Table: "sha256:" + hexOf("table"), Signed: signed},
		{Name: "ess-1.tar.zst", SHA256: hexOf("whole"), Size: 2500, Table: "sha256:" + hexOf("table"), PartSize: 1000,
			Parts: []string{hexOf("1"), hexOf("2"), hexOf("3")}, Parity: []string{hexOf("p1"), hexOf("p2")}, Signed: signed},
		{Name: "b.tar.zst", SHA256: hexOf("whole"), Size: 3000, PartSize: 1000, Parts: []string{hexOf("1"), hexOf("2"), hexOf("3")}},
	} {
		t.Run(fmt.Sprintf("%s/%d parts", s.Name, len(s.Parts)), func(t *testing.T) {
			data := s.Marshal()
			got, err := ParseSums(data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("read back %+v\nwrote %+v\n%s", got, s, data)
			}
			// sha256sum -c reads the file lines; the comments are ignored by it.
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			var files []string
			for _, l := range lines {
				if !strings.HasPrefix(l, "#") {
					files = append(files, l)
				}
			}
			want := 1
			if s.Split() {
				want = len(s.Parts) + len(s.Parity)
			}
			if len(files) != want {
				t.Fatalf("%d file lines, want %d:\n%s", len(files), want, data)
			}
			if len(s.Parity) > 0 && files[len(s.Parts)] != s.Parity[0]+"  "+ParityName(s.Name, 0) {
				t.Errorf("parity line %q", files[len(s.Parts)])
			}
		})
	}
}

// TestSumsOlderTool: the one line an older tool wrote is read: name and sum, no size, no table;
// a binary-mode star and upper-case hex are taken as sha256sum takes them; other comments are
// skipped.
func TestSumsOlderTool(t *testing.T) {
	h := hexOf("x")
	s, err := ParseSums([]byte(strings.ToUpper(h) + "  *b.tar.zst\n# a comment sha256sum ignores\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "b.tar.zst" || s.SHA256 != h || s.Size != 0 || s.Table != "" || s.Split() {
		t.Fatalf("%+v", s)
	}
}

// TestSumsRefused: every malformed checksum file is refused as corrupt, saying what is wrong.
func TestSumsRefused(t *testing.T) {
	h, h2 := hexOf("a"), hexOf("b")
	bundleLine := func(size int, sum string) string {
		return fmt.Sprintf("# bundle b.tar.zst: %d bytes, sha256 %s\n", size, sum)
	}
	parts := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "lists no file"},
		{"comments only", "# nothing\n", "lists no file"},
		{"not hex", "zz" + h[2:] + "  b.tar.zst\n", "line 1: not \"HEX  NAME\""},
		{"short hex", h[:63] + "  b.tar.zst\n", "line 1: not \"HEX  NAME\""},
		{"one space", h + " b.tar.zst\n", "line 1"},
		{"path", h + "  ../b.tar.zst\n", "line 1"},
		{"directory", h + "  dir/b.tar.zst\n", "line 1"},
		{"space in name", h + "  b c.tar.zst\n", "line 1"},
		{"control character", h + "  b\x01.tar.zst\n", "line 1"},
		{"invalid UTF-8", h + "  b\xff.tar.zst\n", "line 1"},
		{"listed twice", parts(h+"  b.tar.zst", h+"  b.tar.zst"), "line 2: b.tar.zst is listed twice"},
		{"bundle line without colon", parts(h+"  b.tar.zst", "# bundle b.tar.zst 5 bytes, sha256 "+h), "line 2: not \"# bundle"},
		{"bundle line without size", parts(h+"  b.tar.zst", "# bundle b.tar.zst: many bytes, sha256 "+h), "line 2"},
		{"parts of no size", parts(h+"  b.tar.zst.001", "# parts: 0 bytes each, 1 data, 0 parity"), "line 2: not \"# parts"},
		{"table not sha256", parts(h+"  b.tar.zst", "# offset table: md5:"+h), "line 2: not an offset table digest"},
		{"table not hex", parts(h+"  b.tar.zst", "# offset table: sha256:"+h[:60]), "line 2"},
		{"signed not a time", parts(h+"  b.tar.zst", "# signed: yesterday"), "line 2: not an RFC 3339 time"},
		{"one file, another listed", parts(h+"  b.tar.zst", h2+"  c.tar.zst", strings.TrimSpace(bundleLine(5, h))), "not b.tar.zst alone"},
		{"one file, other sum", parts(h+"  b.tar.zst", strings.TrimSpace(bundleLine(5, h2))), "not b.tar.zst alone"},
		{"one file, bundle line names another", parts(h+"  b.tar.zst", "# bundle c.tar.zst: 5 bytes, sha256 "+h), "not c.tar.zst alone"},
		{"negative size", parts(h+"  b.tar.zst", strings.TrimSpace(bundleLine(-5, h))), "does not name a file, a size and a sha256"},
		{"bundle sum not hex", parts(h+"  b.tar.zst", "# bundle b.tar.zst: 5 bytes, sha256 xyz"), "does not name a file, a size and a sha256"},
		{"parts counted wrong", parts(h+"  b.tar.zst.001", h2+"  b.tar.zst.002", strings.TrimSpace(bundleLine(1500, h)),
			"# parts: 1000 bytes each, 3 data, 0 parity"), "says 3 data and 0 parity parts, lists 2 files"},
		{"no data part", parts(h+"  b.tar.zst.p01", strings.TrimSpace(bundleLine(1500, h)), "# parts: 1000 bytes each, 0 data, 1 parity"),
			"0 data and 1 parity parts"},
		{"negative parity", parts(h+"  b.tar.zst.001", strings.TrimSpace(bundleLine(500, h)), "# parts: 1000 bytes each, 1 data, -1 parity"),
			"1 data and -1 parity parts"},
		{"parts too many for the size", parts(h+"  b.tar.zst.001", h2+"  b.tar.zst.002", hexOf("c")+"  b.tar.zst.003",
			strings.TrimSpace(bundleLine(1500, h)), "# parts: 1000 bytes each, 3 data, 0 parity"), "3 parts of 1000 bytes cannot hold 1500 bytes"},
		{"parts too few for the size", parts(h+"  b.tar.zst.001", strings.TrimSpace(bundleLine(1500, h)), "# parts: 1000 bytes each, 1 data, 0 parity"),
			"1 parts of 1000 bytes cannot hold 1500 bytes"},
		{"lines name other parts", parts(h+"  b.tar.zst.001", h2+"  b.tar.zst.005", strings.TrimSpace(bundleLine(1500, h)),
			"# parts: 1000 bytes each, 2 data, 0 parity"), "do not name the 2 data and 0 parity parts of b.tar.zst"},
		{"a line longer than a scanner reads", parts(h+"  b.tar.zst", "# "+strings.Repeat("x", 70<<10), h2+"  c.tar.zst"), "line 2"},
		{"data line where parity goes", parts(h+"  b.tar.zst.001", h2+"  b.tar.zst.002", strings.TrimSpace(bundleLine(500, h)),
			"# parts: 1000 bytes each, 1 data, 1 parity"), "do not name the 1 data and 1 parity parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSums([]byte(tc.data))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %+v, %v; want a corrupt checksum file", s, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestReadSums: a checksum file is read from disk with its limit: over MaxSumsSize it is refused
// unread, naming the file; a missing one is os.ErrNotExist; errors of the content name the file.
func TestReadSums(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst.sha256")
	if _, err := ReadSums(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	want := &Sums{Name: "b.tar.zst", SHA256: hexOf("w"), Size: 7}
	os.WriteFile(path, want.Marshal(), 0o644)
	if got, err := ReadSums(path); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadSums = %+v, %v", got, err)
	}
	os.WriteFile(path, []byte("garbage\n"), 0o644)
	if _, err := ReadSums(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("garbage: %v, want a corrupt file named", err)
	}
	big := append(want.Marshal(), bytes.Repeat([]byte("#\n"), MaxSumsSize/2)...)
	os.WriteFile(path, big, 0o644)
	if _, err := ReadSums(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("%d bytes: %v, want a corrupt file named", len(big), err)
	}
	// At the limit exactly, it is read.
	fill := MaxSumsSize - len(want.Marshal())
	exact := append(append(want.Marshal(), bytes.Repeat([]byte("#\n"), fill/2)...), bytes.Repeat([]byte("#"), fill%2)...)
	os.WriteFile(path, exact, 0o644)
	if _, err := ReadSums(path); err != nil {
		t.Fatalf("%d bytes (the limit): %v", len(exact), err)
	}
}

func TestSafeFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"b.tar.zst": true, "ess-1.2.tar.zst.001": true, "été.tar.zst": true,
		"": false, ".": false, "..": false, "a b": false, "a/b": false, `a\b`: false, "a\tb": false,
		"a\x7fb": false, "a\x00b": false, "\xff": false,
	} {
		if got := safeFileName(name); got != want {
			t.Errorf("safeFileName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzSums: the checksum file parser never panics, never allocates from a count it did not
// check, and what it accepts it writes back the same way.
func FuzzSums(f *testing.F) {
	h := strings.Repeat("ab", 32)
	f.Add([]byte(h + "  b.tar.zst\n# bundle b.tar.zst: 10 bytes, sha256 " + h + "\n# offset table: sha256:" + h + "\n"))
	f.Add([]byte(h + "  b.tar.zst.001\n" + h + "  b.tar.zst.p01\n# bundle b.tar.zst: 10 bytes, sha256 " + h + "\n# parts: 8 bytes each, 2 data, 1 parity\n"))
	f.Add([]byte(h + "  b.tar.zst.001\n# parts: 8 bytes each, 1 data, 100000000 parity\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSums(data)
		if err != nil {
			return
		}
		if len(s.Parts)+len(s.Parity) > MaxData || (len(s.Parity) > 0 && len(s.Parts)+len(s.Parity) > MaxShards) {
			t.Fatalf("accepted %d data and %d parity parts", len(s.Parts), len(s.Parity))
		}
		again, err := ParseSums(s.Marshal())
		if err != nil {
			t.Fatalf("its own rendering is refused: %v\n%s", err, s.Marshal())
		}
		if again.SHA256 != s.SHA256 || again.Size != s.Size || len(again.Parts) != len(s.Parts) || len(again.Parity) != len(s.Parity) {
			t.Fatalf("read back differently: %+v, %+v", s, again)
		}
	})
}
