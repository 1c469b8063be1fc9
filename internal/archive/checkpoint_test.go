package archive

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestPackSums(t *testing.T) {
	s := []uint64{0, 1, 1<<64 - 1, 0x0102030405060708}
	b := packSums(s)
	if len(b) != 32 || b[24] != 8 || b[31] != 1 {
		t.Fatalf("packed %x: not 8 little-endian bytes each", b)
	}
	if got := unpackSums(b); !slices.Equal(got, s) {
		t.Fatalf("unpacked %v", got)
	}
	if got := unpackSums(b[:13]); len(got) != 1 || got[0] != 0 {
		t.Fatalf("a torn list: %v", got)
	}
}

// TestCheckpointed: the checkpoint of a stopped run says how many layer bytes it kept: a whole
// layer, and the whole chunks of a half-written one; a torn checkpoint, one of another version
// or no unfinished bundle says nothing.
func TestCheckpointed(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b := randomBytes(t, 300<<10), randomBytes(t, 2*chunkContent+100)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	if _, _, ok := Checkpointed(path); ok {
		t.Fatal("a checkpoint without a bundle")
	}
	w, err := Create(path, created, testPlan(t, created, a, b))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, a)
	db := verify.Digest(b)
	if err := w.WriteEntry(context.Background(), BlobName(db), stateReader(b, chunkContent+10)); err == nil {
		t.Fatal("a broken write succeeded")
	}
	w.Close() // stopped: the checkpoint is saved
	complete, partial, ok := Checkpointed(path)
	if !ok || complete != int64(len(a)) || partial != chunkContent {
		t.Fatalf("Checkpointed = %d, %d, %v; want %d, %d", complete, partial, ok, len(a), chunkContent)
	}
	sum := path + ".partial.sum"
	good := mustRead(t, sum)
	for what, spoil := range map[string]func([]byte) []byte{
		"torn":         func(b []byte) []byte { return b[:len(b)/2] },
		"a byte":       func(b []byte) []byte { b[10] ^= 1; return b },
		"no sum line":  func(b []byte) []byte { return b[:slices.Index(b, '\n')+1] },
		"another sort": func(b []byte) []byte { return []byte("{}\n" + verifyDigestHex([]byte("{}")) + "\n") },
	} {
		os.WriteFile(sum, spoil(slices.Clone(good)), 0o644)
		if c, p, ok := Checkpointed(path); ok {
			t.Errorf("%s: %d, %d, %v", what, c, p, ok)
		}
	}
	os.Remove(sum)
	if _, _, ok := Checkpointed(path); ok {
		t.Error("no checkpoint: still something")
	}
}

// TestCheckpointOfAnotherLayout: a checkpoint left beside an unfinished bundle of the same
// layout but naming another table is not used: the rerun keeps the complete layer on a full
// verification, not on the checkpoint's word.
func TestCheckpointOfAnotherLayout(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b := randomBytes(t, 300<<10), randomBytes(t, 100<<10)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, created, testPlan(t, created, a, b))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, a)
	w.Close()
	editCheckpoint(t, path, func(c *checkpoint) { c.Table = "sha256:" + hexOf("another table") })
	w, err = Create(path, created, testPlan(t, created, a, b))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Resume(context.Background(), BlobName(verify.Digest(a))) {
		t.Fatal("the complete layer was not kept")
	}
	if st := w.ResumeStats(); st.Verified != 1 || st.Checked != 0 {
		t.Fatalf("ResumeStats = %+v: kept on a checkpoint of another table", st)
	}
	writeBlob(t, w, b)
	commitAndCheck(t, w, path)
}
