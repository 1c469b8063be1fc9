package archive

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// prefixSum is the sha256 of the writer's file's first n bytes, read back from the file.
func prefixSum(t *testing.T, w *Writer, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := w.hs.f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}

// stateSum is the sum of a marshalled sha256 state.
func stateSum(t *testing.T, state []byte) []byte {
	t.Helper()
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// halfWritten creates a bundle of a blob of three chunks and a small one, and has the first's
// write cut after its first chunk: the entry is not complete, its first chunk is kept.
func halfWritten(t *testing.T) (*Writer, int) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	blob := randomBytes(t, 3*chunkContent)
	w, err := Create(filepath.Join(t.TempDir(), "b.tar.zst"), created, testPlan(t, created, blob, randomBytes(t, 100)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	d := verify.Digest(blob)
	cut := errors.New("cut")
	if err := w.WriteEntry(context.Background(), BlobName(d), verify.NewReader(errAfter(blob[:chunkContent+5], cut), d, int64(len(blob)))); !errors.Is(err, cut) {
		t.Fatalf("the cut write: %v", err)
	}
	return w, 3 // the first blob's entry, after the manifest and the layout files
}

// TestHashWaitsForEntries: the hash takes in Create's bytes and an entry's bytes as far as
// they are written, never past them; it keeps its state at the entry's rollback point, the
// hash of exactly the bytes before it, and a checkpoint (safePoint) records that point, not
// the bytes of an entry that may yet be dropped.
func TestHashWaitsForEntries(t *testing.T) {
	w, i := halfWritten(t)
	hs := w.hs
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, err := w.step(1<<40, nil, 0); err != nil {
		t.Fatal(err)
	}
	rb := w.rollbackPoint(i)
	w.mu.Lock()
	written := w.dataOff[i] + w.prog[i].avail
	w.mu.Unlock()
	if hs.entry != i || hs.pos != written || written <= rb {
		t.Fatalf("the hash is at %d in entry %d; want at %d, the end of what entry %d has written (its start %d)", hs.pos, hs.entry, written, i, rb)
	}
	if hs.back != rb || string(stateSum(t, hs.backSum)) != string(prefixSum(t, w, rb)) {
		t.Fatalf("the kept state is at %d (want %d) or is not the hash of the bytes before it", hs.back, rb)
	}
	if string(stateSum(t, mustMarshal(t, w))) != string(prefixSum(t, w, hs.pos)) {
		t.Fatal("the running hash is not the hash of the bytes before its position")
	}
	w.mu.Lock()
	off, sum, _, err := w.safePoint()
	w.mu.Unlock()
	if err != nil || off != rb || string(stateSum(t, sum)) != string(prefixSum(t, w, rb)) {
		t.Fatalf("safePoint = %d, %v; want %d and the hash there", off, err, rb)
	}
}

func mustMarshal(t *testing.T, w *Writer) []byte {
	t.Helper()
	s, err := w.hs.sum.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHashRollback: bytes of an entry dropped after the hash took them in are taken back out
// (the hash returns to the entry's rollback point, in the state it had there); bytes kept are
// not; without a kept state to return to, the hash fails naming the entry.
func TestHashRollback(t *testing.T) {
	w, i := halfWritten(t)
	hs := w.hs
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, err := w.step(1<<40, nil, 0); err != nil {
		t.Fatal(err)
	}
	rb, pos := w.rollbackPoint(i), hs.pos

	w.mu.Lock()
	w.rollback(i, pos) // everything the hash took in is kept
	w.mu.Unlock()
	if hs.pos != pos || hs.err != nil {
		t.Fatalf("a rollback keeping every byte hashed moved the hash to %d (%v)", hs.pos, hs.err)
	}
	w.mu.Lock()
	w.rollback(i-1, 0) // another entry's drop (one the hash is past)
	w.rollback(i+1, 0) // and one it has not reached
	w.mu.Unlock()
	if hs.pos != pos || hs.err != nil {
		t.Fatalf("another entry's rollback moved the hash to %d (%v)", hs.pos, hs.err)
	}

	w.mu.Lock()
	w.rollback(i, rb) // the entry's bytes are dropped
	w.mu.Unlock()
	if hs.pos != rb || hs.at.Load() != rb || hs.err != nil {
		t.Fatalf("after the drop the hash is at %d (%d), %v; want %d", hs.pos, hs.at.Load(), hs.err, rb)
	}
	if string(stateSum(t, mustMarshal(t, w))) != string(prefixSum(t, w, rb)) {
		t.Fatal("after the drop the hash is not that of the bytes before the entry")
	}

	// Hashed past the rollback point again, with the kept state lost: the hash cannot go back.
	if _, err := w.step(1<<40, nil, 0); err != nil || hs.pos <= rb {
		t.Fatalf("the hash did not go on: %d, %v", hs.pos, err)
	}
	hs.back = -1
	w.mu.Lock()
	w.rollback(i, rb)
	w.mu.Unlock()
	if hs.err == nil || !strings.Contains(hs.err.Error(), w.tab.Entries[i].Name) || !strings.Contains(hs.err.Error(), "no state to go back to") {
		t.Fatalf("a rollback without a kept state: %v", hs.err)
	}
	if _, err := w.step(1<<40, nil, 0); err != hs.err {
		t.Fatalf("the hash's error is not sticky: %v", err)
	}
}
