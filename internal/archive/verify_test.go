package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestBundleVerify: one pass gives the file's sha256, reads every byte once (counted), and
// finds every entry good (trust's TestVerifyChecksumMissing: without the checksum file beside
// it, VerifySet says it is missing).
func TestBundleVerify(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 2<<20), []byte("small"))
	data := mustRead(t, path)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var c byteCounter
	res, err := b.Verify(context.Background(), &c)
	if err != nil || len(res.Bad) != 0 || res.Checksum != "" {
		t.Fatalf("%+v, %v", res, err)
	}
	if want := verifyDigestHex(data); res.SHA256 != want || c.n.Load() != int64(len(data)) {
		t.Fatalf("sha256 %s (want %s), %d bytes counted of %d", res.SHA256, want, c.n.Load(), len(data))
	}
}

// TestVerifyStops: a stopped context stops the pass with its error, not a verdict on the bundle
// (trust's TestVerifySetStops: VerifySet too; parts' TestCountedReaderStops: the hash of a part).
func TestVerifyStops(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1<<20))
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := b.Verify(ctx, nil); !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("%+v, %v", res, err)
	}
}

// TestCheckEnd: the end of the archive is one frame of 1024 to 10240 zeros and nothing after.
func TestCheckEnd(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame := func(b []byte) []byte { return enc.EncodeAll(b, nil) }
	oneA := make([]byte, 1024)
	oneA[700] = 'A'
	for _, tc := range []struct {
		name string
		src  []byte
		ok   bool
	}{
		{"1024 zeros", frame(make([]byte, 1024)), true},
		{"10240 zeros", frame(make([]byte, 10240)), true},
		{"512 zeros", frame(make([]byte, 512)), false},
		{"10752 zeros", frame(make([]byte, 10752)), false},
		{"not all zeros", frame(oneA), false},
		{"a byte after", append(frame(make([]byte, 1024)), 0), false},
		{"two frames", append(frame(make([]byte, 1024)), frame(make([]byte, 1024))...), false},
		{"a tar header", frame(append(bytes.Repeat([]byte{'x'}, 512), make([]byte, 1024)...)), false},
		{"nothing", nil, false},
	} {
		err := checkEnd(bytes.NewReader(tc.src))
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestEntryError(t *testing.T) {
	inner := fmt.Errorf("%w: bad", ErrCorrupt)
	e := &EntryError{Name: "blobs/sha256/abc", Digest: "sha256:abc", Err: inner}
	if !errors.Is(e, ErrCorrupt) || e.Error() != "bundle entry blobs/sha256/abc: bundle is corrupt: bad" {
		t.Fatalf("%q", e)
	}
}
