package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/klauspost/compress/zstd"
)

// TestEncodeDecodeData: a data frame holds the data and its tar padding, is the same for the
// same data (a cache of frames relies on it), and DecodeData gives the data back verified.
func TestEncodeDecodeData(t *testing.T) {
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("config "), 1000), randomBytes(t, 300<<10)} {
		t.Run(fmt.Sprint(len(data)), func(t *testing.T) {
			var a, b bytes.Buffer
			n, err := enc.EncodeData(&a, int64(len(data)), bytes.NewReader(data))
			if err != nil || n != int64(a.Len()) {
				t.Fatalf("EncodeData: %d (wrote %d), %v", n, a.Len(), err)
			}
			if _, err := enc.EncodeData(&b, int64(len(data)), bytes.NewReader(data)); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("the same data gave another frame (%v)", err)
			}
			d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			defer d.Close()
			if out, err := d.DecodeAll(a.Bytes(), nil); err != nil || !bytes.Equal(out, padded(data)) {
				t.Fatalf("the frame decodes to %d bytes, not the data and its padding (%v)", len(out), err)
			}
			rc, err := DecodeData(bytes.NewReader(a.Bytes()), verify.Digest(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("DecodeData: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestEncodeDataRefuses: content shorter or longer than the size, or a source that fails at its
// end (a verifying reader on a mismatch), fails the encoding.
func TestEncodeDataRefuses(t *testing.T) {
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("some content")
	other := []byte("other conten")
	for what, tc := range map[string]struct {
		src  io.Reader
		want func(error) bool
	}{
		"short": {bytes.NewReader(data[:5]), func(err error) bool { return err.Error() == "5 bytes, want 12" }},
		"long":  {bytes.NewReader(append(bytes.Clone(data), '!')), func(err error) bool { return strings.Contains(err.Error(), "more than the declared 12 bytes") }},
		"mismatch": {verify.NewReader(bytes.NewReader(other), verify.Digest(data), int64(len(data))), func(err error) bool {
			return errors.Is(err, verify.ErrMismatch)
		}},
		"failing": {errAfter(data, errors.New("reset by peer")), func(err error) bool { return strings.Contains(err.Error(), "reset by peer") }},
	} {
		var out bytes.Buffer
		if _, err := enc.EncodeData(&out, int64(len(data)), tc.src); err == nil || !tc.want(err) {
			t.Errorf("%s: %v", what, err)
		}
	}
	// The encoder is still good for the next entry.
	var out bytes.Buffer
	if _, err := enc.EncodeData(&out, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
}

// TestDecodeDataRefuses: a frame that is not one, content that does not match the digest, and
// padding that is not zeros are refused: the read fails instead of ending.
func TestDecodeDataRefuses(t *testing.T) {
	enc, _ := NewEncoder()
	data := []byte("a config blob")
	frameOf := func(content []byte) []byte {
		z, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		defer z.Close()
		return z.EncodeAll(content, nil)
	}
	var good bytes.Buffer
	enc.EncodeData(&good, int64(len(data)), bytes.NewReader(data))
	for what, tc := range map[string]struct {
		frame  []byte
		digest string
		is     error
	}{
		"another digest": {good.Bytes(), verify.Digest([]byte("another")), verify.ErrMismatch},
		"padding not zero": {frameOf(append(bytes.Clone(data), bytes.Repeat([]byte{1}, int(padding(int64(len(data)))))...)),
			verify.Digest(data), ErrCorrupt},
		"no padding":   {frameOf(data), verify.Digest(data), ErrCorrupt},
		"more padding": {frameOf(append(padded(data), 0)), verify.Digest(data), ErrCorrupt},
		"not a frame":  {[]byte("plain text, not zstd"), verify.Digest(data), nil},
	} {
		rc, err := DecodeData(bytes.NewReader(tc.frame), tc.digest, int64(len(data)))
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v, want %v", what, err, tc.is)
		}
	}
}
