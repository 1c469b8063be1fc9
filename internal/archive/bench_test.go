package archive

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCreate writes a bundle of four 32 MiB layers (from memory, already verified) as one
// file, in parts, and in parts with two parity parts: what the parts cost the writer (the hash
// of every part besides the whole file's, and the parity pass).
func BenchmarkCreate(b *testing.B) {
	created := time.Unix(1700000000, 0).UTC()
	var blobs [][]byte
	for range 4 {
		blob := make([]byte, 32<<20)
		for i := range blob {
			blob[i] = byte(i * 7919 >> 3)
		}
		blob[0] = byte(len(blobs))
		blobs = append(blobs, blob)
	}
	plan := testPlan(b, created, blobs...)
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"one file", nil}, {"parts", []Option{WithParts(24<<20, 0)}}, {"parts+2 parity", []Option{WithParts(24<<20, 2)}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(4 * 32 << 20))
			for range b.N {
				path := filepath.Join(b.TempDir(), "b.tar.zst")
				w, err := Create(path, created, plan, tc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				for _, blob := range blobs {
					writeBlob(b, w, blob)
				}
				if _, err := w.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
