package oci

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestOpenBlobAt: a blob read half way and taken up later from there with its hash state
// pulls only the rest (counted by the registry) and verifies the whole blob; a registry that
// ignores Range sends the whole blob, read from its start; a state that is not of the first
// bytes fails the blob at its end; an unknown blob is ErrNotFound.
func TestOpenBlobAt(t *testing.T) {
	blob := randomBlob(t, 3<<20+12345)
	size := int64(len(blob))
	for _, tc := range []struct {
		name     string
		quirks   *testregistry.Quirks
		wantFrom int64 // 0: the whole blob again
	}{
		{"range served", &testregistry.Quirks{}, 1 << 20},
		{"range ignored", &testregistry.Quirks{IgnoreRange: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.StartT(t, testregistry.WithQuirks(tc.quirks))
			s := pushSession(t, reg)
			b := testBlob(blob)
			if err := s.Upload(t.Context(), "a/b", b, ""); err != nil {
				t.Fatal(err)
			}
			c, err := New()
			if err != nil {
				t.Fatal(err)
			}
			repo := reg.Host + "/a/b"
			// The state of the first MiB, as a run that read it keeps it: from a reader of the
			// blob cut there (the registry's own answer is checked against it below, after the
			// count, so that its tail still in flight when it is closed is not counted here).
			local := verify.NewReader(bytes.NewReader(blob), b.Digest, size)
			head := make([]byte, 1<<20)
			io.ReadFull(local, head)
			off, state := local.State()

			sent := reg.BlobBytesSent()
			r, err := c.OpenBlobAt(t.Context(), repo, b.Digest, size, off, state)
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("taken up at %d: %v", off, err)
			}
			if r.From() != tc.wantFrom || !bytes.Equal(rest, blob[tc.wantFrom:]) {
				t.Fatalf("From() = %d, %d bytes; want from %d", r.From(), len(rest), tc.wantFrom)
			}
			if got := reg.BlobBytesSent() - sent; got != size-tc.wantFrom {
				t.Errorf("the registry sent %d bytes, want %d", got, size-tc.wantFrom)
			}
			if n, _ := r.State(); n != size {
				t.Errorf("State() at the end = %d bytes, want %d", n, size)
			}

			// A reader of the registry's answer gives the same state after the same bytes.
			first, err := c.OpenBlobAt(t.Context(), repo, b.Digest, size, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(first, head); err != nil {
				t.Fatal(err)
			}
			if n, st := first.State(); n != off || !bytes.Equal(st, state) || !bytes.Equal(head, blob[:off]) {
				t.Fatalf("State() = %d bytes, another state than the blob's first %d", n, off)
			}
			first.Close()

			// The state of other bytes: the rest does not verify (where the range is served).
			other := verify.NewReader(bytes.NewReader(make([]byte, size)), b.Digest, size)
			io.ReadFull(other, head)
			_, bad := other.State()
			r, err = c.OpenBlobAt(t.Context(), repo, b.Digest, size, off, bad)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(r)
			r.Close()
			if tc.wantFrom > 0 && !errors.Is(err, verify.ErrMismatch) {
				t.Errorf("a lying state: %v, want a mismatch", err)
			}
			if tc.wantFrom == 0 && err != nil {
				t.Errorf("the whole blob, the state unused: %v", err)
			}

			if _, err := c.OpenBlobAt(t.Context(), repo, verify.Digest([]byte("none")), 4, 0, nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown blob: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestContentRange(t *testing.T) {
	for h, want := range map[string]bool{
		"bytes 100-999/1000": true, "bytes 100-999/*": true, "bytes 0-999/1000": false,
		"bytes 100-998/1000": false, "bytes 100-999/1001": false, "100-999/1000": false, "": false,
	} {
		if got := contentRange(h, 100, 1000); got != want {
			t.Errorf("contentRange(%q) = %v, want %v", h, got, want)
		}
	}
}
