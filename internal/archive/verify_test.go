package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestBundleVerify: one pass gives the file's sha256, reads every byte once (counted), and
// finds every entry good; without the checksum file beside it, VerifySet says it is missing.
func TestBundleVerify(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 2<<20), []byte("small"))
	data := mustRead(t, path)
	b, err := Open(path)
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
	os.Remove(path + ".sha256")
	if res, err := Verify(context.Background(), path, nil); err != nil || res.Checksum != "missing" || res.SHA256 != verifyDigestHex(data) {
		t.Fatalf("without the checksum file: %+v, %v", res, err)
	}
}

// TestVerifyStops: a stopped context stops the pass with its error, not a verdict on the bundle.
func TestVerifyStops(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1<<20))
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := b.Verify(ctx, nil); !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := Verify(ctx, path, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify: %v", err)
	}
	var dst bytes.Buffer
	if err := copyCounted(ctx, &dst, bytes.NewReader(make([]byte, 100)), nil); !errors.Is(err, context.Canceled) || dst.Len() != 0 {
		t.Fatalf("copyCounted: %v, %d bytes", err, dst.Len())
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

// TestVerifyCountsBadOnce: an entry damaged in the middle is reported once, by name, and the
// pass goes on to the end (the checksum then differs too).
func TestVerifyCountsBadOnce(t *testing.T) {
	a, c := randomBytes(t, 300<<10), randomBytes(t, 300<<10)
	path, entries := writeTestBundle(t, t.TempDir(), a, []byte("middle"), c)
	b, _ := Open(path)
	off, length, _ := b.EntryRange(entries[3].name)
	b.Close()
	flip(t, path, off+length/2)
	res, err := Verify(context.Background(), path, nil)
	if !errors.Is(err, ErrChecksum) || res == nil || len(res.Bad) != 1 || res.Bad[0].Name != entries[3].name || res.Bad[0].Digest != entries[3].digest {
		t.Fatalf("%+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "b.tar.zst.sha256 says") {
		t.Fatalf("the error does not name the checksum file: %v", err)
	}
}
