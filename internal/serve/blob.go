package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
)

const (
	// smallBlob: blobs up to this size (configs, signatures) are read whole and verified
	// before a byte is sent.
	smallBlob = 1 << 20
	// heldTail is how many of a streamed blob's last bytes wait until its digest matched.
	heldTail = 64 << 10
	// maxRanges is the most ranges one request may ask for (nginx's max_ranges): a client
	// resuming a pull asks for one; each costs a seek into the compressed file.
	maxRanges = 8
)

// serveBlob answers GET and HEAD of a blob of rp: a manifest's bytes from memory; any other
// blob verified whole before a byte of it is sent, the first time it is asked for and whenever
// the bundle's files changed since (verified.go), then streamed as it is in the bundle, or a
// range of it (http.ServeContent: Range, If-Range, If-None-Match). A blob whose files have no
// identity to remember is streamed verified again, its last bytes held until they matched. More than
// maxRanges ranges in one request are refused (416) before anything is read.
func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, name string, rp *repo, digest string) {
	if n := strings.Count(req.Header.Get("Range"), ",") + 1; n > maxRanges && req.Method == http.MethodGet {
		writeError(w, http.StatusRequestedRangeNotSatisfiable, "RANGE_INVALID", fmt.Sprintf("%d ranges asked: at most %d a request", n, maxRanges))
		return
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", digest)
	h.Set("Etag", `"`+digest+`"`)
	h.Set("Content-Type", "application/octet-stream")
	if m, ok := rp.manifests[digest]; ok {
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(m.raw))
		return
	}
	b := r.graph.Carrier(digest)
	if !rp.blobs[digest] || b == nil {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to repository "+name)
		return
	}
	rec, _ := b.Manifest().BlobByDigest(digest)
	if req.Method == http.MethodHead {
		h.Set("Content-Length", fmt.Sprint(rec.Size))
		h.Set("Accept-Ranges", "bytes")
		w.WriteHeader(http.StatusOK)
		return
	}
	trusted, err := r.verifyWhole(req.Context(), b, digest)
	if err != nil {
		r.fail(w, req, name, digest, err)
		return
	}
	if rec.Size <= smallBlob {
		data, err := readBlob(b, digest, rec.Size, trusted)
		if err != nil {
			r.fail(w, req, name, digest, err)
			return
		}
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
		return
	}
	s := &blobSeeker{b: b, digest: digest, size: rec.Size, trusted: trusted}
	defer s.Close()
	http.ServeContent(w, req, "", time.Time{}, s)
	if s.err != nil {
		r.o.log.Printf("%s %s: blob %s of %s: %v (the response was cut short)", req.Method, req.URL.Path, digest, name, s.err)
	}
}

// fail answers 500 for a blob that could not be read or did not verify, and logs why.
func (r *Registry) fail(w http.ResponseWriter, req *http.Request, name, digest string, err error) {
	r.o.log.Printf("%s %s: blob %s of %s: %v", req.Method, req.URL.Path, digest, name, err)
	writeError(w, http.StatusInternalServerError, "UNKNOWN", "blob "+digest+" cannot be served: it failed verification or could not be read (see the server's log)")
}

// readBlob reads a blob whole: as it is in the bundle when it is trusted, else verified.
func readBlob(b *archive.Bundle, digest string, size int64, trusted bool) ([]byte, error) {
	rc, err := b.OpenBlob(digest)
	if trusted {
		rc, err = b.OpenBlobRange(digest, 0, size)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// blobSeeker is a blob as an io.ReadSeeker for http.ServeContent. A trusted blob (verified,
// its files unchanged since) is the raw frame read from wherever it is read. An untrusted one,
// read from the start, is the verified reader of the blob with its last heldTail bytes held
// back until the digest matched: a blob that changed since it was verified ends short, never
// with wrong bytes complete; read from elsewhere (a Range), it is the raw frame read from there.
type blobSeeker struct {
	b       *archive.Bundle
	digest  string
	size    int64
	trusted bool
	pos     int64
	rc      io.ReadCloser
	src     io.Reader
	err     error // the first read error, for the log
}

func (s *blobSeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.size
	}
	if off < 0 {
		return 0, errors.New("seek before the start")
	}
	if off != s.pos {
		s.Close()
		s.pos = off
	}
	return off, nil
}

func (s *blobSeeker) Read(p []byte) (int, error) {
	if s.src == nil {
		if s.pos >= s.size {
			return 0, io.EOF
		}
		var err error
		if s.pos == 0 && !s.trusted {
			if s.rc, err = s.b.OpenBlob(s.digest); err == nil {
				s.src = &heldBack{src: s.rc, left: s.size}
			}
		} else if s.rc, err = s.b.OpenBlobRange(s.digest, s.pos, s.size-s.pos); err == nil {
			s.src = s.rc
		}
		if err != nil {
			s.err = err
			return 0, err
		}
	}
	n, err := s.src.Read(p)
	s.pos += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *blobSeeker) Close() error {
	if s.rc != nil {
		s.rc.Close()
	}
	s.rc, s.src = nil, nil
	return nil
}

// heldBack hands on a verified reader's bytes but its last heldTail, which it reads, with the
// end that verifies them, before it hands them on.
type heldBack struct {
	src  io.Reader // fails at its end unless the content matched
	left int64     // bytes not read from src yet
	tail []byte    // the last bytes, verified, not handed on yet
}

func (h *heldBack) Read(p []byte) (int, error) {
	if h.left > heldTail {
		n, err := h.src.Read(p[:min(int64(len(p)), h.left-heldTail)])
		h.left -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if h.left > 0 {
		h.tail = make([]byte, h.left)
		if _, err := io.ReadFull(h.src, h.tail); err != nil {
			return 0, err
		}
		h.left = 0
		if n, err := h.src.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			if err == nil || err == io.EOF {
				err = errors.New("more bytes than declared")
			}
			h.tail = nil
			return 0, err
		}
	}
	if len(h.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.tail)
	h.tail = h.tail[n:]
	return n, nil
}
