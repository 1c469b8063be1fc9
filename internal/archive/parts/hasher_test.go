package parts

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"testing"
)

// TestPartHasher: the parts' sums are the sha256 of each partSize slice of what was written,
// however the writes are cut; the state saved midway and restored in another hasher gives
// the same sums; a state that does not fit is refused.
func TestPartHasher(t *testing.T) {
	data := randomBytes(t, 10_000)
	const partSize = 3000
	var want []string
	for off := 0; off < len(data); off += partSize {
		sum := sha256.Sum256(data[off:min(off+partSize, len(data))])
		want = append(want, hex.EncodeToString(sum[:]))
	}
	for _, cut := range []int{1, 7, 2999, 3000, 3001, 10_000} {
		h := NewHasher(partSize)
		for off := 0; off < len(data); off += cut {
			h.Write(data[off:min(off+cut, len(data))])
		}
		if got := h.Sums(); !reflect.DeepEqual(got, want) {
			t.Fatalf("writes of %d: %v, want %v", cut, got, want)
		}
	}
	// A size that is a multiple of the part size has no empty last part.
	h := NewHasher(partSize)
	h.Write(data[:2*partSize])
	if got := h.Sums(); len(got) != 2 || got[1] != want[1] {
		t.Fatalf("two whole parts: %v", got)
	}
	for _, at := range []int{0, 1500, 3000, 7777} {
		a := NewHasher(partSize)
		a.Write(data[:at])
		st, err := a.State()
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("written after the state was taken"))
		b := NewHasher(partSize)
		if err := b.Restore(st); err != nil {
			t.Fatalf("restore at %d: %v", at, err)
		}
		b.Write(data[at:])
		if got := b.Sums(); !reflect.DeepEqual(got, want) {
			t.Fatalf("restored at %d: %v, want %v", at, got, want)
		}
	}
	b := NewHasher(partSize)
	if err := b.Restore(nil); err == nil {
		t.Error("a nil state was restored")
	}
	if err := b.Restore(&HasherState{Off: 6500, Done: []string{want[0]}}); err == nil {
		t.Error("a state of 6500 bytes with one part done was restored")
	}
}
