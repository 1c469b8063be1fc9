package archive

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestSalvage: from a bundle cut anywhere, Salvage returns exactly the blobs whose frames are
// whole, and their frames decode to the blobs.
func TestSalvage(t *testing.T) {
	blobs := [][]byte{randomBytes(t, 300<<10), []byte("small"), randomBytes(t, 70<<10)}
	path, entries := writeTestBundle(t, t.TempDir(), blobs...)
	data, _ := os.ReadFile(path)
	b, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int64{0, 100, b.tab.Entries[4].Offset + 10, b.tab.Entries[5].Offset, b.tab.EndOffset, int64(len(data))} {
		p := path + ".partial"
		os.WriteFile(p, data[:cut], 0o644)
		var got []string
		err := Salvage(p, func(digest string, size int64, frame io.Reader) error {
			fr, _ := io.ReadAll(frame)
			if err := CheckData(bytes.NewReader(fr), digest, size); err != nil {
				t.Errorf("cut %d: %s: %v", cut, digest, err)
			}
			got = append(got, digest)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range b.tab.Entries[3:] {
			if e.Offset+e.Length <= cut {
				want = append(want, e.Digest)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("cut at %d: salvaged %v, want %v", cut, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("cut at %d: salvaged %v, want %v", cut, got, want)
			}
		}
	}
	_ = entries
}
