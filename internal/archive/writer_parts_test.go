package archive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/verify"
)

var partsCreated = time.Unix(1700000000, 0).UTC()

// writeParts writes a bundle of blobs at path with opts and returns what Commit returned.
func writeParts(t *testing.T, path string, blobs [][]byte, opts ...Option) string {
	t.Helper()
	w, err := Create(path, partsCreated, testPlan(t, partsCreated, blobs...), opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		writeBlob(t, w, b)
	}
	sum, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// partsFixture is a bundle of three layers in parts of partSize with parity parts, alone in its
// directory.
type partsFixture struct {
	dir, path string
	blobs     [][]byte
}

func newPartsFixture(t *testing.T, partSize int64, parity int) *partsFixture {
	f := &partsFixture{blobs: [][]byte{randomBytes(t, 700<<10), randomBytes(t, 300<<10), randomBytes(t, 5000)}}
	f.dir = t.TempDir()
	f.path = filepath.Join(f.dir, "b.tar.zst")
	writeParts(t, f.path, f.blobs, WithParts(partSize, parity))
	return f
}

func filesOf(base string) []string { return parts.Files(base) }

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b := mustRead(t, path)
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func verifyDigest(b []byte) string { return verify.Digest(b) }

// verifyPath reads the bundle at path (the file, or its parts) once, as trust.Verify does
// (Bundle.Verify), and compares the file's sha256 with its checksum file, if any: Checksum is
// "matched", or "missing" without one. The checks of parts and signatures are trust's, and its
// tests'.
func verifyPath(ctx context.Context, path string, progress Counter) (*Result, error) {
	b, err := openPath(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	res, err := b.Verify(ctx, progress)
	if err != nil {
		return nil, err
	}
	res.Checksum = "missing"
	s, err := parts.Locate(path)
	if err != nil {
		return nil, err
	}
	if s.Sums != nil {
		res.Checksum = "matched"
		if s.Sums.SHA256 != res.SHA256 {
			return res, fmt.Errorf("%s: sha256 %s, the checksum file says %s", path, res.SHA256, s.Sums.SHA256)
		}
	}
	return res, nil
}

// TestPartsResume: a run in parts that was stopped mid-part resumes in place: the layers it
// wrote are kept, and the bundle is the one a run in one go writes.
func TestPartsResume(t *testing.T) {
	f := newPartsFixture(t, 256<<10, 1)
	fresh := map[string][]byte{}
	for _, p := range append(filesOf(f.path), f.path+".sha256") {
		fresh[filepath.Base(p)] = mustRead(t, p)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	w, err := Create(path, partsCreated, testPlan(t, partsCreated, f.blobs...), WithParts(256<<10, 1))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, f.blobs[0]) // spans parts 1 to 3
	if err := w.WriteEntry(context.Background(), BlobName(verifyDigest(f.blobs[1])), failAfter(f.blobs[1], 1000)); err == nil {
		t.Fatal("a stopped write succeeded")
	}
	w.Close()
	if _, err := os.Stat(parts.DataName(path+".partial", 3)); err != nil {
		t.Fatalf("no unfinished parts: %v", err)
	}
	w, err = Create(path, partsCreated, testPlan(t, partsCreated, f.blobs...), WithParts(256<<10, 1))
	if err != nil {
		t.Fatal(err)
	}
	var kept []bool
	for _, b := range f.blobs {
		ok := w.Resume(context.Background(), BlobName(verifyDigest(b)))
		kept = append(kept, ok)
		if !ok {
			writeBlob(t, w, b)
		}
	}
	if !kept[0] || kept[1] || kept[2] {
		t.Fatalf("kept %v, want only the first layer", kept)
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(fresh) {
		t.Fatalf("%d files after the resume, want %d", len(ents), len(fresh))
	}
	for name, want := range fresh {
		if !bytes.Equal(mustRead(t, filepath.Join(dir, name)), want) {
			t.Fatalf("%s differs from the one written in one go", name)
		}
	}
}

func verifyDigestHex(b []byte) string { return strings.TrimPrefix(verify.Digest(b), "sha256:") }
