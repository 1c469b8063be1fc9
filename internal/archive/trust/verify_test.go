package trust

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestVerifyChecksumMissing: without the checksum file beside it, Verify finds the bundle good
// and says the checksum file is missing (archive's TestBundleVerify: the pass itself).
func TestVerifyChecksumMissing(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 2<<20), []byte("small"))
	data := mustRead(t, path)
	os.Remove(path + ".sha256")
	if res, err := Verify(context.Background(), path, nil); err != nil || res.Checksum != "missing" || res.SHA256 != verifyDigestHex(data) {
		t.Fatalf("without the checksum file: %+v, %v", res, err)
	}
}

// TestVerifySetStops: a stopped context stops Verify with its error, not a verdict on the
// bundle.
func TestVerifySetStops(t *testing.T) {
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, path, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify: %v", err)
	}
}

// TestVerifyCountsBadOnce: an entry damaged in the middle is reported once, by name, and the
// pass goes on to the end (the checksum then differs too).
func TestVerifyCountsBadOnce(t *testing.T) {
	a, c := randomBytes(t, 300<<10), randomBytes(t, 300<<10)
	path, entries := writeTestBundle(t, t.TempDir(), a, []byte("middle"), c)
	b, _ := Open(path)
	off, length, _ := b.EntryRange(entries[3].Name)
	b.Close()
	flip(t, path, off+length/2)
	res, err := Verify(context.Background(), path, nil)
	if !errors.Is(err, ErrChecksum) || res == nil || len(res.Bad) != 1 || res.Bad[0].Name != entries[3].Name || res.Bad[0].Digest != entries[3].Digest {
		t.Fatalf("%+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "b.tar.zst.sha256 says") {
		t.Fatalf("the error does not name the checksum file: %v", err)
	}
}
