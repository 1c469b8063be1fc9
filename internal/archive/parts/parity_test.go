package parts_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"

	"github.com/klauspost/reedsolomon"
)

// TestStripe: a parity step reads at most 1 MiB of each part, at most 64 MiB in all, at
// least 4 KiB of each, in multiples of 64 bytes.
func TestStripe(t *testing.T) {
	for shards, want := range map[int]int64{2: 1 << 20, 64: 1 << 20, 65: (64 << 20) / 65 &^ 63, 256: 256 << 10, 1 << 20: 4 << 10} {
		got := parts.Stripe(shards)
		if got != want || got%64 != 0 || got*int64(shards) > 64<<20 && got != 4<<10 {
			t.Errorf("parts.Stripe(%d) = %d, want %d", shards, got, want)
		}
	}
}

// TestParityBytes: parity part j holds, at byte i, the Reed-Solomon parity (the library's
// default matrix) of byte i of every data part, the last data part read as padded with zeros:
// what the format document promises another tool can rebuild from. Stripes smaller than a
// part, and than the last part's rest, are crossed.
func TestParityBytes(t *testing.T) {
	*parts.StripeMax = 8 << 10
	t.Cleanup(func() { *parts.StripeMax = 1 << 20 })
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	const partSize = 100 << 10 // not a multiple of the stripe
	writeParts(t, path, [][]byte{randomBytes(t, 250<<10)}, archive.WithParts(partSize, 2))
	var shards [][]byte
	for i := 0; ; i++ {
		b, err := readIfExists(parts.DataName(path, i))
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		shards = append(shards, append(b, make([]byte, partSize-len(b))...))
	}
	if len(shards) != 3 {
		t.Fatalf("%d data parts, want 3", len(shards))
	}
	k := len(shards)
	shards = append(shards, make([]byte, partSize), make([]byte, partSize))
	enc, err := reedsolomon.New(k, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(shards); err != nil {
		t.Fatal(err)
	}
	for j := range 2 {
		if got := mustRead(t, parts.ParityName(path, j)); !bytes.Equal(got, shards[k+j]) {
			t.Fatalf("parity part %d differs from the Reed-Solomon parity of the data parts", j+1)
		}
	}
}

// readIfExists reads a file; nil, nil when there is none.
func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
