package trust

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// partsFixture is an unsplit bundle and the same input in parts of partSize with parity parts,
// in their own directories.
type partsFixture struct {
	whole, dir, path string
	blobs            [][]byte
	partSize         int64
	parity           int
}

func newPartsFixture(t *testing.T, partSize int64, parity int) *partsFixture {
	f := &partsFixture{blobs: [][]byte{randomBytes(t, 700<<10), randomBytes(t, 300<<10), randomBytes(t, 5000)},
		partSize: partSize, parity: parity}
	f.whole = filepath.Join(t.TempDir(), "b.tar.zst")
	writeParts(t, f.whole, f.blobs)
	f.dir = t.TempDir()
	f.path = filepath.Join(f.dir, "b.tar.zst")
	writeParts(t, f.path, f.blobs, archive.WithParts(partSize, parity))
	return f
}

func (f *partsFixture) part(i int) string       { return parts.DataName(f.path, i) }
func (f *partsFixture) parityPart(i int) string { return parts.ParityName(f.path, i) }

// TestPartsJoin: parts of a size smaller than the largest layer are each exactly that size but
// the last, join into the bytes of the unsplit bundle, are checked by sha256sum -c, and are
// read in place however they are named.
func TestPartsJoin(t *testing.T) {
	f := newPartsFixture(t, 256<<10, 2)
	whole := mustRead(t, f.whole)
	n := parts.Count(int64(len(whole)), f.partSize)
	if n < 4 {
		t.Fatalf("%d parts: the fixture should need more", n)
	}
	var joined []byte
	for i := range n {
		b := mustRead(t, f.part(i))
		if i < n-1 && int64(len(b)) != f.partSize {
			t.Fatalf("part %d is %d bytes, want %d", i+1, len(b), f.partSize)
		}
		joined = append(joined, b...)
	}
	if !bytes.Equal(joined, whole) {
		t.Fatal("the joined parts differ from the unsplit bundle")
	}
	for _, p := range []string{f.path, f.parityPart(0), f.parityPart(1)} {
		if p == f.path {
			if _, err := os.Stat(p); err == nil {
				t.Fatal("the joined file exists beside the parts")
			}
			continue
		}
		if st, err := os.Stat(p); err != nil || st.Size() != f.partSize {
			t.Fatalf("%s: %v, want %d bytes", p, err, f.partSize)
		}
	}
	if _, err := os.Stat(parts.ParityName(f.path, 2)); err == nil {
		t.Fatal("a third parity part")
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", "b.tar.zst.sha256")
	cmd.Dir = f.dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), ": OK") != n+2 {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	sums, err := parts.ReadSums(f.path + ".sha256")
	if err != nil || sums.SHA256 != verifyDigestHex(whole) || sums.Size != int64(len(whole)) {
		t.Fatalf("checksum file: %+v, %v", sums, err)
	}
	for _, arg := range []string{f.part(0), f.part(2), f.path, f.dir, f.path + ".0*", f.path + ".sha256"} {
		res, err := Verify(context.Background(), arg, nil)
		if err != nil || len(res.Bad) > 0 || res.Checksum != "matched" || res.SHA256 != sums.SHA256 || len(res.Parts) != n+2 {
			t.Fatalf("Verify(%s) = %+v, %v", arg, res, err)
		}
	}
	// The joined file, named as such, is checked against the line for it.
	os.WriteFile(f.path, joined, 0o644)
	if res, err := Verify(context.Background(), f.path, nil); err != nil || res.Checksum != "matched" || res.Parts != nil {
		t.Fatalf("Verify(joined) = %+v, %v", res, err)
	}
	os.Remove(f.path)
	b, err := Open(f.part(1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, x := range f.blobs {
		got, err := b.ReadFile(archive.BlobName(verifyDigest(x)))
		if err != nil || !bytes.Equal(got, x) {
			t.Fatalf("reading a blob across parts: %v", err)
		}
	}
}

// TestPartsDamage: every kind of bad part is named with what is wrong with it, found in place,
// and rebuilt by Repair from the parity parts into the bytes it should hold.
func TestPartsDamage(t *testing.T) {
	other := newPartsFixture(t, 256<<10, 2) // another bundle, same geometry
	for _, tc := range []struct {
		name, want string
		spoil      func(f *partsFixture)
	}{
		{"missing", "b.tar.zst.002: missing", func(f *partsFixture) { os.Remove(f.part(1)) }},
		{"truncated", "b.tar.zst.003: 200000 bytes, 62144 short of its 262144 (truncated)", func(f *partsFixture) { os.Truncate(f.part(2), 200000) }},
		{"bit-flipped", "b.tar.zst.002: does not match its sha256", func(f *partsFixture) { flip(t, f.part(1), 100000) }},
		{"duplicated", "b.tar.zst.003: holds the bytes of b.tar.zst.002", func(f *partsFixture) { copyFile(t, f.part(1), f.part(2)) }},
		{"from another bundle", "b.tar.zst.001: does not match its sha256", func(f *partsFixture) { copyFile(t, other.part(0), f.part(0)) }},
		{"last part flipped", "b.tar.zst.004: does not match its sha256", func(f *partsFixture) { flip(t, f.part(3), 10) }},
		{"footer flipped", "b.tar.zst.004: does not match its sha256", func(f *partsFixture) {
			st, _ := os.Stat(f.part(3))
			flip(t, f.part(3), st.Size()-20)
		}},
		{"parity flipped", "b.tar.zst.p02: does not match its sha256", func(f *partsFixture) { flip(t, f.parityPart(1), 7) }},
		{"parity missing", "b.tar.zst.p01: missing", func(f *partsFixture) { os.Remove(f.parityPart(0)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPartsFixture(t, 256<<10, 2)
			good := map[string][]byte{}
			for _, p := range append(filesOf(f.path), f.path+".sha256") {
				good[p] = mustRead(t, p)
			}
			tc.spoil(f)
			res, err := Verify(context.Background(), f.dir, nil)
			var pe *parts.Error
			if !errors.As(err, &pe) || !errors.Is(err, archive.ErrCorrupt) || len(pe.Bad) != 1 || !pe.Rebuildable() {
				t.Fatalf("Verify: %v (%+v)", err, res)
			}
			if got := pe.Bad[0].Name + ": " + pe.Bad[0].Problem; !strings.HasPrefix(got, tc.want) {
				t.Fatalf("bad part: %q, want %q", got, tc.want)
			}
			if !strings.Contains(err.Error(), "the 2 parity parts can rebuild them: run unbundle repair") {
				t.Fatalf("error %q does not say parity can rebuild", err)
			}
			s, err := Find(context.Background(), Trust{}, f.dir)
			if err != nil {
				t.Fatal(err)
			}
			wrote, err := Repair(context.Background(), s, f.dir, nil)
			if err != nil || len(wrote) != 1 {
				t.Fatalf("Repair: %v, %v", wrote, err)
			}
			for p, want := range good {
				if !bytes.Equal(mustRead(t, p), want) {
					t.Fatalf("%s differs after the repair", p)
				}
			}
			if _, err := Verify(context.Background(), f.part(0), nil); err != nil {
				t.Fatalf("Verify after the repair: %v", err)
			}
		})
	}
}

// TestParityLimits: N parity parts rebuild 1 and N lost parts, into another directory when the
// parts are on a medium that cannot be written; N+1 lost parts are refused, saying so, and
// nothing is written.
func TestParityLimits(t *testing.T) {
	for _, lose := range []int{1, 3, 4} {
		f := newPartsFixture(t, 128<<10, 3)
		want := map[int][]byte{}
		for i := range lose {
			p := f.part(2 * i)
			want[2*i] = mustRead(t, p)
			os.Remove(p)
		}
		s, err := Find(context.Background(), Trust{}, f.part(1))
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		wrote, err := Repair(context.Background(), s, out, nil)
		if lose > 3 {
			var pe *parts.Error
			if !errors.As(err, &pe) || pe.Rebuildable() || len(wrote) > 0 ||
				!strings.Contains(err.Error(), "4 of 11 parts lost or damaged (b.tar.zst.001, b.tar.zst.003, b.tar.zst.005, b.tar.zst.007); the 3 parity parts rebuild at most 3: carry at least 1 of them again") {
				t.Fatalf("lost %d of 3: Repair = %v, %v", lose, wrote, err)
			}
			if ents, _ := os.ReadDir(out); len(ents) > 0 {
				t.Fatalf("Repair left %d files", len(ents))
			}
			continue
		}
		if err != nil || len(wrote) != lose {
			t.Fatalf("lost %d of 3: Repair = %v, %v", lose, wrote, err)
		}
		for i, b := range want {
			if !bytes.Equal(mustRead(t, filepath.Join(out, filepath.Base(f.part(i)))), b) {
				t.Fatalf("rebuilt part %d differs", i+1)
			}
		}
		if _, err := Verify(context.Background(), f.dir+"/*", nil); err == nil {
			t.Fatal("the parts in place verify without the rebuilt ones")
		}
		s, err = Find(context.Background(), Trust{}, f.dir, out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifySet(context.Background(), s, nil); err != nil {
			t.Fatalf("the parts and the rebuilt ones: %v", err)
		}
	}
}

// TestPartsRerun: a rerun into the same name leaves exactly the files of the new bundle, whether
// it has fewer parts, more, or is one file.
func TestPartsRerun(t *testing.T) {
	f := newPartsFixture(t, 128<<10, 2)
	for _, opts := range [][]archive.Option{{archive.WithParts(400<<10, 1)}, {archive.WithParts(100<<10, 0)}, nil, {archive.WithParts(128<<10, 2)}} {
		writeParts(t, f.path, f.blobs, opts...)
		s, err := Find(context.Background(), Trust{}, f.dir)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{f.path + ".sha256"}
		if s.Split() {
			want = append(want, append(parts.FirstPaths(s.Data), parts.FirstPaths(s.Parity)...)...)
		} else {
			want = append(want, f.path)
		}
		ents, _ := os.ReadDir(f.dir)
		if len(ents) != len(want) {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("after a rerun with %d options: %v, want %v", len(opts), names, want)
		}
		if _, err := Verify(context.Background(), f.dir, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func filesOf(base string) []string { return parts.Files(base) }
