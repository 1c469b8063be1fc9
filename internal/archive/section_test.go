package archive

import (
	"bytes"
	"io"
	"testing"
)

// TestOpenBlobRange: any range of a layer (a raw frame: within a block, across blocks, at
// either end) and of a compressed entry reads as the same bytes of the blob; a range outside
// it is refused.
func TestOpenBlobRange(t *testing.T) {
	big := randomBytes(t, 3<<20+17)
	path, entries := writeTestBundle(t, t.TempDir(), big, []byte("a small blob, in a compressed frame"))
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, e := range entries[3:] {
		n := int64(len(e.data))
		for _, r := range [][2]int64{{0, n}, {0, 1}, {n - 1, 1}, {7, 9}, {rawBlockMax - 2, 5}, {rawBlockMax, rawBlockMax}, {n / 2, n - n/2}, {n, 0}} {
			if r[0]+r[1] > n {
				continue
			}
			rc, err := b.OpenBlobRange(e.digest, r[0], r[1])
			if err != nil {
				t.Fatalf("%s range %v: %v", e.name, r, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, e.data[r[0]:r[0]+r[1]]) {
				t.Fatalf("%s range %v: %d bytes, %v", e.name, r, len(got), err)
			}
		}
		if _, err := b.OpenBlobRange(e.digest, n-1, 2); err == nil {
			t.Errorf("%s: a range past its end was opened", e.name)
		}
	}
}
