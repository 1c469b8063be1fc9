package oci

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
)

func randomBlob(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sentCounter is a Blob's Sent that sums what it is told.
func sentCounter(b Blob) (Blob, *atomic.Int64) {
	var n atomic.Int64
	b.Sent = func(k int64) { n.Add(k) }
	return b, &n
}

func pushSession(t *testing.T, reg *testregistry.Registry, opts ...Option) *Session {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.PushSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUploadBodyLimit: behind a proxy that refuses bodies over 1 MiB with 413 (nginx's default
// client_max_body_size; REGISTRIES.md), a 5 MiB blob goes in chunks under the limit, the next
// large blob goes in chunks from the start, a small one in one request, and the progress
// counts each blob's bytes once.
func TestUploadBodyLimit(t *testing.T) {
	q := &testregistry.Quirks{BodyLimit: 1 << 20}
	reg := testregistry.StartT(t, testregistry.WithQuirks(q))
	s := pushSession(t, reg)
	big, sent := sentCounter(testBlob(randomBlob(t, 5<<20)))
	if err := s.Upload(t.Context(), "a/b", big, ""); err != nil {
		t.Fatalf("upload behind a 1 MiB limit: %v", err)
	}
	if sent.Load() != big.Size {
		t.Errorf("progress counted %d bytes of %d", sent.Load(), big.Size)
	}
	refused := q.Refused()
	if refused == 0 {
		t.Fatal("the limit never refused anything: the test proves nothing")
	}
	for _, n := range []int{3 << 20, 100 << 10} {
		if err := s.Upload(t.Context(), "a/b", testBlob(randomBlob(t, n)), ""); err != nil {
			t.Fatalf("upload of %d bytes: %v", n, err)
		}
	}
	if q.Refused() != refused {
		t.Errorf("later uploads met the limit %d more times: the chunk size was not kept", q.Refused()-refused)
	}
	if ok, err := s.BlobExists(t.Context(), "a/b", big.Digest); !ok || err != nil {
		t.Fatalf("blob not there: %v, %v", ok, err)
	}
}

// TestUploadChunkSize: with a chunk size, a blob goes in PATCHes of that size from the start.
func TestUploadChunkSize(t *testing.T) {
	reg := testregistry.StartT(t)
	s := pushSession(t, reg, WithChunkSize(256<<10))
	before := reg.Requests()
	if err := s.Upload(t.Context(), "a/b", testBlob(randomBlob(t, 1<<20+5)), ""); err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - before; n < 7 { // POST, 5 PATCHes, PUT
		t.Fatalf("%d requests: not chunked", n)
	}
	if _, err := New(WithChunkSize(1000)); err == nil {
		t.Fatal("a chunk size of 1000 bytes was taken")
	}
}

// TestUploadResumesChunks: connections reset in the middle of a third of the PATCHes: each
// broken chunk is taken up from the offset the registry reports, so the registry receives far
// less than a blob restarted from its first byte each time would send.
func TestUploadResumesChunks(t *testing.T) {
	f := testregistry.NewFaults(7)
	reg := testregistry.StartT(t, testregistry.WithFaults(f))
	s := pushSession(t, reg, WithChunkSize(256<<10))
	blob, sent := sentCounter(testBlob(randomBlob(t, 4<<20)))
	f.SetKinds(testregistry.FaultReset)
	f.SetRate(0.3)
	err := s.Upload(t.Context(), "a/b", blob, "")
	f.SetRate(0)
	if err != nil {
		t.Fatalf("upload: %v (faults %v)", err, f.Injected())
	}
	got := reg.BlobBytesReceived()
	t.Logf("received %d bytes for a %d-byte blob; faults %v", got, blob.Size, f.Injected())
	if f.Injected()[testregistry.FaultReset] == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
	if got > blob.Size*3/2 {
		t.Fatalf("received %d bytes for %d", got, blob.Size)
	}
	if sent.Load() != blob.Size {
		t.Errorf("progress counted %d of %d", sent.Load(), blob.Size)
	}
	if ok, _ := s.BlobExists(t.Context(), "a/b", blob.Digest); !ok {
		t.Fatal("blob not there")
	}
}

// TestUploadBadSource: a source whose bytes do not match the digest stops the upload, in one
// request or in chunks, with an error wrapping ErrSource, and the registry keeps nothing.
func TestUploadBadSource(t *testing.T) {
	reg := testregistry.StartT(t)
	for _, chunk := range []int64{0, 256 << 10} {
		s := pushSession(t, reg, WithChunkSize(chunk))
		good := randomBlob(t, 700<<10)
		bad := bytes.Clone(good)
		bad[len(bad)-1] ^= 1
		b := Blob{Digest: verify.Digest(good), Size: int64(len(good)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(verify.NewReader(bytes.NewReader(bad), verify.Digest(good), int64(len(good)))), nil
		}}
		err := s.Upload(t.Context(), "a/b", b, "")
		if !errors.Is(err, ErrSource) || !errors.Is(err, verify.ErrMismatch) {
			t.Fatalf("chunk %d: err = %v", chunk, err)
		}
		if ok, _ := s.BlobExists(t.Context(), "a/b", b.Digest); ok {
			t.Fatalf("chunk %d: the registry kept the blob", chunk)
		}
	}
}

// TestUploadClosesReaders: every reader Upload opens is closed by the time it returns, in one
// request, in chunks, and after a 413 that makes it go back (a bundle's blob reader holds file
// descriptors of its own).
func TestUploadClosesReaders(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{BodyLimit: 1 << 20}))
	for _, opts := range [][]Option{nil, {WithChunkSize(256 << 10)}} {
		s := pushSession(t, reg, opts...)
		for _, n := range []int{100 << 10, 3 << 20} {
			b := testBlob(randomBlob(t, n))
			var opened, closed atomic.Int64
			open := b.Open
			b.Open = func() (io.ReadCloser, error) {
				rc, err := open()
				opened.Add(1)
				return closeCounter{rc, &closed}, err
			}
			if err := s.Upload(t.Context(), "a/b", b, ""); err != nil {
				t.Fatal(err)
			}
			if opened.Load() == 0 || opened.Load() != closed.Load() {
				t.Errorf("%d bytes: opened %d readers, closed %d", n, opened.Load(), closed.Load())
			}
		}
	}
}

type closeCounter struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c closeCounter) Close() error {
	c.n.Add(1)
	return c.ReadCloser.Close()
}
