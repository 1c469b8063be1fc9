package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// ErrSource is wrapped when an upload stopped because its source failed: the blob's bytes could
// not be read or did not verify. Another try of the same source will not mend it.
var ErrSource = errors.New("reading the blob to upload")

// minChunk is the smallest chunk an upload falls back to after 413 answers.
const minChunk = 256 << 10

// brokenChunk is the chunk size taken after a one-request upload broke on the way.
const brokenChunk = 32 << 20

// Blob is a blob to upload: its digest, its size, and how to read it.
type Blob struct {
	Digest string
	Size   int64
	// Open returns the blob's content from its start, verified as it streams (failing at its
	// end, instead of io.EOF, on a mismatch). Upload calls it again when it has to go back, and
	// closes every reader it opened before it returns.
	Open func() (io.ReadCloser, error)
	// Sent, if not nil, is told how many more of the blob's bytes went out; the sum never goes
	// past Size, however many times the upload goes back.
	Sent func(n int64)
}

// Mount asks the registry to link the blob from repository from into repo. It returns true on
// 201. A registry that declines answers 202 with an upload session (ECR without blob mounting):
// that session is returned for Upload, and the session asks no more mounts of this registry;
// after that Mount returns false, "" at once. A refusal to read the source (401, 403, 404)
// returns false, "" too: the upload is the check that matters.
func (s *Session) Mount(ctx context.Context, repo, digest, from string) (mounted bool, session string, err error) {
	if s.noMnt.Load() {
		return false, "", nil
	}
	u := s.base + repo + "/blobs/uploads/?mount=" + url.QueryEscape(digest) + "&from=" + url.QueryEscape(from)
	resp, err := s.do(ctx, http.MethodPost, u, nil, 0, "")
	if err != nil {
		return false, "", fmt.Errorf("mount blob %s into %s from %s: %w", digest, repo, from, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, "", nil
	case http.StatusAccepted:
		s.noMnt.Store(true)
		return false, resp.Header.Get("Location"), nil
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		// No right to read the source (a token service that dropped its scope, a project the
		// credentials cannot see): upload instead, which checks the right that matters.
		return false, "", nil
	}
	return false, "", statusError(resp, fmt.Sprintf("mount blob %s into %s from %s", digest, repo, from))
}

// Upload sends b into repo, in the session given (from a declined Mount) or a new one. It sends
// the blob in one request when it can; when the registry or a proxy refuses a body that large
// (413), or the session was made with a chunk size, it sends chunks (PATCH with Content-Range,
// halving the chunk after each 413, down to 256 KiB, and remembering it for the next blobs),
// and a chunk whose connection broke is taken up from the offset the registry reports. The
// registry checks the digest at the end, as b.Open's reader does.
func (s *Session) Upload(ctx context.Context, repo string, b Blob, session string) error {
	what := fmt.Sprintf("upload blob %s to %s", b.Digest, repo)
	var err error
	if session == "" {
		if session, err = s.startUpload(ctx, repo, what); err != nil {
			return err
		}
	}
	u := &upload{s: s, repo: repo, b: b, what: what, session: s.resolve(session)}
	chunk := s.chunkSize()
	if chunk == 0 || b.Size <= chunk {
		err = u.monolithic(ctx)
		if err != nil && b.Size > brokenChunk && !errors.Is(err, ErrSource) && Broken(err) {
			// A link that breaks large bodies: from now on they go in chunks, which resume.
			s.limit.CompareAndSwap(0, brokenChunk)
		}
		if !errors.Is(err, ErrTooLarge) {
			return err
		}
		chunk = min(32<<20, b.Size/2)
		if chunk < minChunk {
			return fmt.Errorf("%w; the registry or a proxy in front of it limits request bodies below %d bytes: raise it (nginx client_max_body_size; Harbor sets 0)", err, minChunk)
		}
	}
	return u.chunked(ctx, chunk)
}

// chunkSize is the chunk to use from the start: --chunk-size, or what a 413 taught.
func (s *Session) chunkSize() int64 {
	if l := s.limit.Load(); l > 0 && (s.chunk == 0 || l < s.chunk) {
		return l
	}
	return s.chunk
}

// startUpload opens an upload session in repo and returns its location.
func (s *Session) startUpload(ctx context.Context, repo, what string) (string, error) {
	resp, err := s.do(ctx, http.MethodPost, s.base+repo+"/blobs/uploads/", nil, 0, "")
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", statusError(resp, what)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("%s: the registry gave no upload location", what)
	}
	return loc, nil
}

// upload is one blob's upload in progress.
type upload struct {
	s       *Session
	repo    string
	b       Blob
	what    string
	session string // absolute location of the upload session
	high    int64  // bytes reported to b.Sent
}

// monolithic sends the whole blob in one PUT.
func (u *upload) monolithic(ctx context.Context) error {
	rc, err := u.b.Open()
	if err != nil {
		return fmt.Errorf("%s: %w: %w", u.what, ErrSource, err)
	}
	defer rc.Close()
	resp, err := u.send(ctx, http.MethodPut, u.finish(u.session), rc, 0, u.b.Size, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp, u.what)
	}
	return nil
}

// chunked sends the blob in chunks, then closes the session with its digest.
func (u *upload) chunked(ctx context.Context, chunk int64) error {
	var (
		rc     io.ReadCloser
		pos    int64 // of rc in the blob
		offset int64 // the registry has the blob's first offset bytes
		broken int   // chunks in a row whose connection broke
	)
	defer func() {
		if rc != nil {
			rc.Close()
		}
	}()
	for offset < u.b.Size {
		if rc == nil || pos != offset {
			if rc != nil {
				rc.Close()
			}
			var err error
			if rc, err = u.b.Open(); err != nil {
				return fmt.Errorf("%s: %w: %w", u.what, ErrSource, err)
			}
			if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
				return fmt.Errorf("%s: %w: %w", u.what, ErrSource, err)
			}
			pos = offset
		}
		n := min(chunk, u.b.Size-offset)
		resp, err := u.send(ctx, http.MethodPatch, u.session, rc, offset, n, "application/octet-stream")
		pos += n // or less, and then it is reopened
		switch {
		case errors.Is(err, ErrSource) || ctx.Err() != nil:
			return err
		case err != nil: // the connection broke: where is the session?
			if broken++; broken > 3 {
				return err
			}
			if offset, err = u.status(ctx); err != nil {
				return err
			}
			pos = -1
			continue
		}
		broken = 0
		loc := resp.Header.Get("Location")
		code := resp.StatusCode
		serr := statusError(resp, u.what)
		resp.Body.Close()
		switch {
		case code == http.StatusAccepted || code == http.StatusNoContent:
			offset += n
			if loc != "" {
				u.session = u.s.resolve(loc)
			}
		case code == http.StatusRequestEntityTooLarge && chunk/2 >= minChunk:
			chunk /= 2
			u.s.limit.Store(chunk)
			pos = -1
		default:
			return serr
		}
	}
	u.s.limit.CompareAndSwap(0, chunk)
	resp, err := u.s.do(ctx, http.MethodPut, u.finish(u.session), nil, 0, "")
	if err != nil {
		return fmt.Errorf("%s: %w", u.what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp, u.what)
	}
	return nil
}

// status asks the registry how much of the blob it has (GET on the session: Range 0-N).
func (u *upload) status(ctx context.Context) (int64, error) {
	resp, err := u.s.do(ctx, http.MethodGet, u.session, nil, -1, "")
	if err != nil {
		return 0, fmt.Errorf("%s: upload status: %w", u.what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return 0, statusError(resp, u.what+": upload status")
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		u.session = u.s.resolve(loc)
	}
	_, end, ok := strings.Cut(resp.Header.Get("Range"), "-")
	if !ok {
		return 0, nil
	}
	last, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64)
	if err != nil || last+1 > u.b.Size {
		return 0, fmt.Errorf("%s: the registry reports a range %q", u.what, resp.Header.Get("Range"))
	}
	return last + 1, nil
}

// finish is the session's location with the blob's digest: the PUT that closes it.
func (u *upload) finish(session string) string {
	loc, err := url.Parse(session)
	if err != nil {
		return session
	}
	q := loc.Query()
	q.Set("digest", u.b.Digest)
	loc.RawQuery = q.Encode()
	return loc.String()
}

// send sends n bytes of r, the blob's bytes from offset on, as the body of one request; when
// they end the blob, the body ends only where r does, so that r's verification has passed
// before the registry sees the end of the body. A failure of r itself wraps ErrSource.
func (u *upload) send(ctx context.Context, method, loc string, r io.Reader, offset, n int64, ctype string) (*http.Response, error) {
	var src io.Reader = io.LimitReader(r, n)
	if offset+n == u.b.Size {
		src = &endOf{lim: src, r: r}
	}
	body := &guardedBody{r: src, pos: offset, u: u}
	req, err := http.NewRequestWithContext(withPushIf(ctx, u.s.push), method, loc, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+n-1))
	} else {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := u.s.c.http.Do(req)
	// The HTTP client may still be reading the body when a request fails early: wait for it,
	// and stop it, before the reader is used again or closed.
	if rerr := body.close(); rerr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("%s: %w: %w", u.what, ErrSource, rerr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.what, describe(stripURL(err)))
	}
	return resp, nil
}

// endOf reads lim, then ends only where r, whose last bytes lim held, does: r's error at its
// end (a verification that failed) is the body's.
type endOf struct {
	lim, r io.Reader
}

func (e *endOf) Read(p []byte) (int, error) {
	n, err := e.lim.Read(p)
	if err == io.EOF {
		var one [1]byte
		if m, rerr := e.r.Read(one[:]); m > 0 {
			err = errors.New("the blob is longer than its size")
		} else if rerr != nil {
			err = rerr // io.EOF once verified
		}
	}
	return n, err
}

func withPushIf(ctx context.Context, push bool) context.Context {
	if push {
		return withPush(ctx)
	}
	return ctx
}

// guardedBody hands a request body to the HTTP client and takes it back: close waits for a
// read in flight, makes later reads fail, and reports the reader's own error, if any. It tells
// the upload's Sent of bytes past the highest point reached so far.
type guardedBody struct {
	mu     sync.Mutex
	r      io.Reader
	pos    int64 // in the blob
	u      *upload
	err    error
	closed bool
}

var errBodyTaken = errors.New("request ended")

func (g *guardedBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errBodyTaken
	}
	n, err := g.r.Read(p)
	g.pos += int64(n)
	if g.pos > g.u.high {
		if g.u.b.Sent != nil {
			g.u.b.Sent(g.pos - g.u.high)
		}
		g.u.high = g.pos
	}
	if err != nil && err != io.EOF {
		g.err = err
	}
	return n, err
}

func (g *guardedBody) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.err
}
