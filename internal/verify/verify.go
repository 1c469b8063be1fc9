// Package verify checks content against the digest and size that named it, while it streams.
//
// A Reader hands out at most the declared number of bytes. At the end it fails, instead of
// returning io.EOF, when the content was short, long, or hashed to another digest, so a
// consumer (an HTTP upload, a file copy) never completes on unverified content.
package verify

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// ErrMismatch is wrapped by every error about content that does not match its digest or size.
var ErrMismatch = errors.New("content does not match its digest")

// ErrBadDigest is returned for a digest string that is not "sha256:" and 64 lowercase hex digits.
var ErrBadDigest = errors.New("not a sha256 digest")

// Check reports whether d is a well-formed sha256 digest.
func Check(d string) error {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexPart) != 64 || strings.ToLower(hexPart) != hexPart {
		return fmt.Errorf("%w: %q", ErrBadDigest, d)
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return fmt.Errorf("%w: %q", ErrBadDigest, d)
	}
	return nil
}

// Digest returns the sha256 digest of b as "sha256:<hex>".
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Bytes checks b against digest d and size; size < 0 skips the size check.
func Bytes(b []byte, d string, size int64) error {
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("%w: %s: size %d, want %d", ErrMismatch, d, len(b), size)
	}
	if got := Digest(b); got != d {
		return fmt.Errorf("%w: %s: content hashes to %s", ErrMismatch, d, got)
	}
	return nil
}

// Reader is an io.Reader that verifies what it reads. Not safe for concurrent use.
type Reader struct {
	r      io.Reader
	digest string
	size   int64
	n      int64
	h      hash.Hash
	err    error // sticky final result
}

// NewReader returns a Reader over r that expects exactly size bytes hashing to digest
// (a sha256 digest; check it first with Check). It reads at most size+1 bytes from r.
func NewReader(r io.Reader, digest string, size int64) *Reader {
	return &Reader{r: r, digest: digest, size: size, h: sha256.New()}
}

// NewReaderFrom returns a Reader of the content from byte off on: r yields the content's bytes
// from off to its end, and state is the sha256 state (State) of its first off bytes, which
// the caller read and kept earlier. It verifies the whole content, as NewReader does, and
// hands out size-off bytes. A state that does not unmarshal fails the first Read.
func NewReaderFrom(r io.Reader, digest string, size, off int64, state []byte) *Reader {
	v := &Reader{r: r, digest: digest, size: size, n: off, h: sha256.New()}
	if off < 0 || off > size {
		v.err = fmt.Errorf("%w: %s: resume at byte %d of %d", ErrMismatch, digest, off, size)
	} else if off > 0 {
		if err := v.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			v.err = fmt.Errorf("%s: resume at byte %d: hash state: %w", digest, off, err)
		}
	}
	return v
}

// State returns how many bytes of the content were read so far (from its start, whatever
// offset the Reader began at) and the sha256 state of those bytes, for NewReaderFrom to go on
// from later. The state is only what was read: it says nothing of whether the content matched.
func (v *Reader) State() (int64, []byte) {
	st, err := v.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil { // sha256's never fails
		return 0, nil
	}
	return v.n, st
}

// Read implements io.Reader. It returns io.EOF only after exactly size bytes that hash to the
// digest; otherwise an error wrapping ErrMismatch, or the underlying reader's error.
func (v *Reader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if left := v.size - v.n; int64(len(p)) > left {
		p = p[:left]
	}
	if len(p) == 0 {
		v.err = v.finish()
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF && v.n < v.size:
		v.err = fmt.Errorf("%w: %s: %d bytes, want %d", ErrMismatch, v.digest, v.n, v.size)
		return n, v.err
	case err == io.EOF:
		v.err = v.check()
		if n > 0 && v.err == io.EOF {
			return n, nil
		}
		return n, v.err
	case err != nil:
		v.err = err
	}
	return n, err
}

// Verified reports whether every byte was read and matched.
func (v *Reader) Verified() bool { return v.err == io.EOF }

// finish runs once size bytes were read: the source must be at its end, and the hash right.
func (v *Reader) finish() error {
	var one [1]byte
	for {
		n, err := v.r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%w: %s: more than the declared %d bytes", ErrMismatch, v.digest, v.size)
		}
		if err == io.EOF {
			return v.check()
		}
		if err != nil {
			return err
		}
	}
}

func (v *Reader) check() error {
	got := "sha256:" + hex.EncodeToString(v.h.Sum(nil))
	if got != v.digest {
		return fmt.Errorf("%w: %s: content hashes to %s", ErrMismatch, v.digest, got)
	}
	return io.EOF
}
