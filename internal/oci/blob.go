package oci

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// BlobReader is a blob streamed from a registry and verified as it streams (OpenBlobAt): it
// fails at its end, instead of returning io.EOF, unless the whole blob had its declared size
// and digest. It can say how much of the blob it has read and the sha256 state of those bytes
// (State), so that a transfer that stops can be taken up from there later. Not safe for
// concurrent use; the caller closes it.
type BlobReader struct {
	r    io.Reader
	v    *verify.Reader // nil for content from WithLocal, which keeps no state
	body io.Closer
	from int64
}

func (b *BlobReader) Read(p []byte) (int, error) { return b.r.Read(p) }

// Close releases the response.
func (b *BlobReader) Close() error { return b.body.Close() }

// From is the offset of the blob the reader starts at: what OpenBlobAt was asked for, or 0 when
// the registry sent the whole blob.
func (b *BlobReader) From() int64 { return b.from }

// State returns how many bytes of the blob were read so far, counted from its start, and the
// sha256 state of those bytes (verify.Reader.State); 0 and nil when it keeps none.
func (b *BlobReader) State() (int64, []byte) {
	if b.v == nil {
		return 0, nil
	}
	return b.v.State()
}

// OpenBlob streams the blob digest of size bytes of repository repo ("host/path"), whole:
// OpenBlobAt from byte 0.
func (c *Client) OpenBlob(ctx context.Context, repo, digest string, size int64) (*BlobReader, error) {
	return c.OpenBlobAt(ctx, repo, digest, size, 0, nil)
}

// OpenBlobAt streams the blob digest of repository repo ("host/path"), size bytes, from byte
// off on, through the host's mirror if it has one (WithMirror), where state is the sha256 state
// of the blob's first off bytes as an earlier BlobReader's State gave it; off 0 (and state nil)
// reads it whole, from WithLocal's content when it has it. See Session.OpenBlobAt.
func (c *Client) OpenBlobAt(ctx context.Context, repo, digest string, size, off int64, state []byte) (*BlobReader, error) {
	if err := verify.Check(digest); err != nil {
		return nil, err
	}
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	if off <= 0 && c.o.local != nil {
		if rc, _, ok := c.o.local.ByDigest(digest); ok {
			return &BlobReader{r: rc, body: rc}, nil
		}
	}
	br, err := c.reader(ctx, r.RegistryStr()).OpenBlobAt(ctx, r.RepositoryStr(), digest, size, off, state)
	if err != nil {
		return nil, through(mirror, err)
	}
	return br, nil
}

// OpenBlobAt streams the blob digest of repo, size bytes, from byte off on, where state is the
// sha256 state of the blob's first off bytes; off 0 (and state nil) reads it whole. It asks for
// the rest with a Range request. A registry, proxy or storage backend that ignores Range
// answers with the whole blob (200), and one that answers another range or refuses it (416)
// is asked for the whole blob: the reader then starts at byte 0, as From says, and the caller
// writes from there. Either way the reader verifies the whole blob: the bytes it reads
// continue the hash of the first off bytes, and a state that does not belong to them fails the
// blob at its end.
func (s *Session) OpenBlobAt(ctx context.Context, repo, digest string, size, off int64, state []byte) (*BlobReader, error) {
	if err := verify.Check(digest); err != nil {
		return nil, err
	}
	u := s.base + repo + "/blobs/" + digest
	what := fmt.Sprintf("pull blob %s of %s/%s", digest, s.host, repo)
	if off > 0 && off < size {
		resp, err := s.getBlob(ctx, u, off)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		switch resp.StatusCode {
		case http.StatusPartialContent:
			if contentRange(resp.Header.Get("Content-Range"), off, size) {
				return blobReader(resp, digest, size, off, state, what)
			}
		case http.StatusOK: // Range ignored: the whole blob follows
			return blobReader(resp, digest, size, 0, nil, what)
		case http.StatusRequestedRangeNotSatisfiable:
		default:
			defer resp.Body.Close()
			return nil, statusError(resp, what)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	resp, err := s.getBlob(ctx, u, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, statusError(resp, what)
	}
	return blobReader(resp, digest, size, 0, nil, what)
}

// getBlob sends the GET of a blob, for its bytes from off on when off > 0.
func (s *Session) getBlob(ctx context.Context, u string, off int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(withPushIf(ctx, s.push), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	return s.send(req)
}

// blobReader verifies resp's body, the blob from byte from on.
func blobReader(resp *http.Response, digest string, size, from int64, state []byte, what string) (*BlobReader, error) {
	if resp.ContentLength >= 0 && resp.ContentLength != size-from {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w: the registry sends %d bytes from byte %d, the blob has %d", what, verify.ErrMismatch, resp.ContentLength, from, size)
	}
	v := verify.NewReaderFrom(resp.Body, digest, size, from, state)
	return &BlobReader{r: v, v: v, body: resp.Body, from: from}, nil
}

// contentRange reports whether a Content-Range header says "bytes off-(size-1)/size" (or
// "/*": the total unknown to the sender).
func contentRange(h string, off, size int64) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return false
	}
	rng, total, ok := strings.Cut(spec, "/")
	if !ok || (total != "*" && total != strconv.FormatInt(size, 10)) {
		return false
	}
	first, last, ok := strings.Cut(rng, "-")
	return ok && first == strconv.FormatInt(off, 10) && last == strconv.FormatInt(size-1, 10)
}
