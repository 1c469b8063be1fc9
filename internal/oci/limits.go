package oci

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Our own caps on what a registry may make us read (go-containerregistry's remote reads
// manifests up to 100 MiB): every response of the client passes through bodyLimits.
const (
	// maxErrorBody bounds the body of an answer other than 2xx: a registry's JSON error is a
	// few hundred bytes; the rest of a larger one is not read.
	maxErrorBody = 64 << 10
	// maxListBytes bounds one page of a tags list (some 100,000 tags).
	maxListBytes = 4 << 20
	// maxTokenBytes bounds a token service's answer.
	maxTokenBytes = 1 << 20
	// maxTags and maxTagPages bound a whole tags list, however the registry pages it (a
	// registry that pages by 100 gives 200,000 tags in 2,000 pages).
	maxTags     = 200000
	maxTagPages = 2000
)

// bodyLimits bounds response bodies: manifests, indexes and referrers lists (GET
// /v2/.../manifests/ and /referrers/) to manifest.MaxBytes, refused from their Content-Length
// before a byte is read, else failing at the byte past it; tags lists to maxListBytes; any
// answer other than 2xx to maxErrorBody, cut there silently (errors are read for their
// message only). Blob bodies are bounded by the verified readers that read them (the
// descriptor's size), configs are refused over manifest.MaxBytes from their descriptor.
type bodyLimits struct{ rt http.RoundTripper }

func (b bodyLimits) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body = &cutBody{ReadCloser: resp.Body, left: maxErrorBody}
		return resp, nil
	}
	limit, what := int64(0), ""
	switch p := req.URL.Path; pathKind(p) {
	case "/manifests/", "/referrers/":
		limit, what = manifest.MaxBytes, "manifest "+pathTail(p)
	case "/tags/":
		limit, what = maxListBytes, "tags list of "+strings.TrimSuffix(strings.TrimPrefix(p, "/v2/"), "/tags/list")
	default:
		return resp, nil
	}
	what = fmt.Sprintf("registry %s: %s", req.URL.Host, what)
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, tooLarge(what, resp.ContentLength, limit)
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: limit, limit: limit, what: what}
	return resp, nil
}

// pathKind is the kind of an API path, its last marker ("/manifests/", "/blobs/", "/tags/",
// "/referrers/"; "" for none): a repository's name may hold one as a component.
func pathKind(p string) string {
	kind, at := "", -1
	for _, k := range []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, k); i > at {
			kind, at = k, i
		}
	}
	return kind
}

// pathTail is the repository and reference of an API path, for messages.
func pathTail(p string) string {
	p = strings.TrimPrefix(p, "/v2/")
	for _, kind := range []string{"/manifests/", "/referrers/"} {
		if i := strings.LastIndex(p, kind); i > 0 {
			sep := ":"
			if strings.Contains(p[i+len(kind):], ":") {
				sep = "@"
			}
			return p[:i] + sep + p[i+len(kind):]
		}
	}
	return p
}

// tooLarge is the error for an answer over limit: of size bytes, or -1 when found reading it.
func tooLarge(what string, size, limit int64) error {
	switch {
	case limit == manifest.MaxBytes && size >= 0:
		return manifest.CheckSize(what, size)
	case limit == manifest.MaxBytes:
		return manifest.Over(what)
	}
	return fmt.Errorf("%s is over %d MiB: refused", what, limit>>20)
}

// limitedBody fails the read that passes left bytes.
type limitedBody struct {
	io.ReadCloser
	left, limit int64
	what        string
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, tooLarge(l.what, -1, l.limit)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n + int(l.left), tooLarge(l.what, -1, l.limit)
	}
	return n, err
}

// cutBody ends (io.EOF) after left bytes.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}
