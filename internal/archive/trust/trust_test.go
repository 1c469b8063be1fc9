package trust

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archivetest"
	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

// testSigner makes an ed25519 signer and the allowed key list that trusts it.
func testSigner(t *testing.T) (ssh.Signer, []sshsig.Allowed) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, []sshsig.Allowed{{Key: s.PublicKey(), Source: "test:1"}}
}

func mustFind(t *testing.T, tr Trust, args ...string) *Set {
	t.Helper()
	s, err := Find(context.Background(), tr, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugePartCounts: a checksum file of a few hundred bytes whose parts line claims 10^8
// parity parts (or data parts) is refused before anything is allocated from the claim, by
// every command (they all start at Find); so is one of many megabytes.
func TestHugePartCounts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	os.WriteFile(path+".001", []byte("x"), 0o644)
	h := strings.Repeat("a", 64)
	for name, sums := range map[string]string{
		"parity": fmt.Sprintf("%s  b.tar.zst.001\n# bundle b.tar.zst: 1 bytes, sha256 %s\n# parts: 1 bytes each, 1 data, 100000000 parity\n", h, h),
		"data":   fmt.Sprintf("%s  b.tar.zst.001\n# bundle b.tar.zst: 1 bytes, sha256 %s\n# parts: 1 bytes each, 100000000 data, 0 parity\n", h, h),
		"shards": fmt.Sprintf("%s  b.tar.zst.001\n# bundle b.tar.zst: 1 bytes, sha256 %s\n# parts: 1 bytes each, 200 data, 57 parity\n", h, h),
		"size":   strings.Repeat("# a comment line to make the file large\n", 1<<16),
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(path+".sha256", []byte(sums), 0o644)
			var err error
			n := allocated(func() { _, err = Find(context.Background(), Trust{}, path+".001") })
			if !errors.Is(err, archive.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if n > 4<<20 {
				t.Fatalf("allocated %d bytes before refusing it", n)
			}
		})
	}
}

// TestSignedFooterFirst: a bundle replaced under its signed checksum file (the real .sha256 and
// .sig beside it) is refused from its footer, before its offset table or manifest is parsed: a
// replacement whose table is not even JSON is refused as "not the one signed", not as a bad
// table.
func TestSignedFooterFirst(t *testing.T) {
	signer, allowed := testSigner(t)
	path, _ := writeTestBundle(t, t.TempDir(), []byte("signed blob"))
	if err := Sign(mustFind(t, Trust{}, path), signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSet(mustFind(t, Trust{Keys: allowed}, path)); err != nil {
		t.Fatalf("the signed bundle: %v", err)
	}
	// The replacement: a footer and a "table" of junk whose digest the footer gives.
	// (docs/bundle-format.md: the table frame 0x184D2A5D, the footer frame 0x184D2A5E.)
	junk := []byte(strings.Repeat("{", 300<<10))
	tf := archivetest.Skippable(0x184D2A5D, junk)
	sum := sha256.Sum256(junk)
	foot := make([]byte, 64)
	copy(foot, "ESSBUNDL")
	binary.LittleEndian.PutUint32(foot[8:], archive.FormatVersion)
	binary.LittleEndian.PutUint64(foot[24:], uint64(len(tf)))
	copy(foot[32:], sum[:])
	data := append(tf, archivetest.Skippable(0x184D2A5E, foot)...)
	os.WriteFile(path, data, 0o644)
	if _, err := archive.NewReader(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "offset table") {
		t.Fatalf("unsigned, the junk table is read and refused as such: %v", err)
	}
	s := mustFind(t, Trust{Keys: allowed}, path)
	_, _, err := s.Open(context.Background(), true)
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "is not the one signed") {
		t.Fatalf("err = %v, want the signed table digest refused first", err)
	}
}

// TestSwappedWithRealSignature: an internally valid bundle and its own checksum file, beside the
// real signature, are refused by Find with a key and without one.
func TestSwappedWithRealSignature(t *testing.T) {
	signer, allowed := testSigner(t)
	dir := t.TempDir()
	path, _ := writeTestBundle(t, dir, []byte("the real blob"))
	if err := Sign(mustFind(t, Trust{}, path), signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	if s := mustFind(t, Trust{}, path); s.Unchecked == nil || s.Unchecked.Key != sshsig.ID(signer.PublicKey()) {
		t.Fatalf("a signed bundle opened without a key: Unchecked = %+v", s.Unchecked)
	}
	other, _ := writeTestBundle(t, t.TempDir(), []byte("another blob"))
	os.Rename(other, path)
	os.Rename(other+".sha256", path+".sha256")
	for _, tr := range []Trust{{}, {Keys: allowed}} {
		if _, err := Find(context.Background(), tr, path); !errors.Is(err, ErrSignature) {
			t.Fatalf("keys %d: err = %v, want ErrSignature", len(tr.Keys), err)
		}
	}
	if _, err := Verify(context.Background(), path, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify: %v", err)
	}
}

// TestRepairForgedSums: parts whose checksum file was forged (another digest for a good part,
// with parity made to rebuild something else) are not repaired when the real signature lies
// beside them; and whatever Repair replaces, it keeps.
func TestRepairForgedSums(t *testing.T) {
	signer, _ := testSigner(t)
	f := newPartsFixture(t, 256<<10, 2)
	if err := Sign(mustFind(t, Trust{}, f.dir), signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	good := mustRead(t, f.part(1))
	sums := mustRead(t, f.path+".sha256")
	forged := strings.Replace(string(sums), verifyDigestHex(good), strings.Repeat("0", 64), 1)
	os.WriteFile(f.path+".sha256", []byte(forged), 0o644)
	if _, err := Find(context.Background(), Trust{}, f.dir); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged sums beside the real signature: %v", err)
	}
	// Unsigned, the forged sums name part 2 damaged: Repair keeps it rather than lose it.
	os.Remove(f.path + ".sha256.sig")
	s := mustFind(t, Trust{}, f.dir)
	wrote, err := Repair(context.Background(), s, f.dir, nil)
	if err == nil {
		t.Fatalf("rebuilt %v from parity that does not make the forged digest", wrote)
	}
	if !bytesEqualFile(t, f.part(1), good) {
		t.Fatal("the good part was changed")
	}
	// A part really damaged is rebuilt, and the damaged file kept beside it.
	os.WriteFile(f.path+".sha256", sums, 0o644)
	flip(t, f.part(1), 1000)
	damaged := mustRead(t, f.part(1))
	wrote, err = Repair(context.Background(), mustFind(t, Trust{}, f.dir), f.dir, nil)
	if err != nil || len(wrote) != 1 || wrote[0].Kept == "" {
		t.Fatalf("Repair: %+v, %v", wrote, err)
	}
	if !bytesEqualFile(t, f.part(1), good) || !bytesEqualFile(t, wrote[0].Kept, damaged) {
		t.Fatal("the rebuilt part is not the good one, or the damaged one was not kept")
	}
}

func TestFlippedByte(t *testing.T) {
	dir := t.TempDir()
	blob := randomBytes(t, 256<<10)
	path, entries := writeTestBundle(t, dir, blob)
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	off, length, _ := b.EntryRange(entries[3].Name)
	b.Close()
	data, _ := os.ReadFile(path)
	data[off+length/2] ^= 0x40
	os.WriteFile(path, data, 0o644)

	res, err := Verify(context.Background(), path, nil)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Verify err = %v, want ErrChecksum", err)
	}
	if len(res.Bad) != 1 || res.Bad[0].Name != entries[3].Name {
		t.Fatalf("Bad = %v, want only %s", res.Bad, entries[3].Name)
	}
	b, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := b.OpenBlob(entries[3].Digest)
	if err == nil {
		_, err = io.Copy(io.Discard, r)
		r.Close()
	}
	if err == nil {
		t.Fatal("reading a flipped blob succeeded")
	}
}

// TestWrongChecksumFile: a .sha256 that does not match is an error of its own kind.
func TestWrongChecksumFile(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), []byte("blob"))
	os.WriteFile(path+".sha256", []byte(strings.Repeat("0", 64)+"  b.tar.zst\n"), 0o644)
	if _, err := Verify(context.Background(), path, nil); !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
}
