package archive

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// TestOpenBlobRangeDamage: a range is not verified (a part of a blob cannot be), but its
// frame's structure is: a range that reaches a damaged block header, or padding that is not
// zeros, fails as corrupt; a range in a run of blocks (eight are read at once) before the
// damage reads its bytes.
func TestOpenBlobRangeDamage(t *testing.T) {
	blob := randomBytes(t, 9*rawBlockMax+100) // ten blocks, the last with padding
	path, entries := writeTestBundle(t, t.TempDir(), blob)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	off, length, _ := b.EntryRange(entries[3].name)
	b.Close()
	content := int64(len(padded(blob)))
	frame := off + length - rawFrameLen(content)      // the raw frame's start
	tenth := frame + rawHeaderLen + 9*(3+rawBlockMax) // read in the second run of eight blocks
	good := mustRead(t, path)
	d := entries[3].digest
	for _, tc := range []struct {
		name     string
		at       int64
		value    byte
		from, n  int64
		wantFail bool
	}{
		{"block header, range across it", tenth, 0xff, 8 * rawBlockMax, rawBlockMax + 50, true},
		{"block header, range from that block", tenth, 0xff, 9*rawBlockMax + 10, 5, true},
		{"block header, range in the run before it", tenth, 0xff, 0, rawBlockMax, false},
		{"padding, range to the end", off + length - 1, 1, int64(len(blob)) - 10, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Clone(good)
			data[tc.at] ^= tc.value
			os.WriteFile(path, data, 0o644)
			b, err := openPath(path)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var got []byte
			rc, err := b.OpenBlobRange(d, tc.from, tc.n)
			if err == nil {
				got, err = io.ReadAll(rc)
				rc.Close()
			}
			if tc.wantFail {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("got %v, want a corrupt frame", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, blob[tc.from:tc.from+tc.n]) {
				t.Fatalf("%d bytes, %v", len(got), err)
			}
		})
	}
}
