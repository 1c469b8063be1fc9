package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
)

// AcceptManifests lists the manifest media types asked for when reading a manifest back.
var AcceptManifests = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// Pusher writes to the repositories of one registry with a single authenticated transport.
// Safe for concurrent use.
type Pusher struct {
	c      *Client
	host   string
	base   string // scheme://host/v2/
	client *http.Client
}

// Pusher returns a pusher for registry host, authorised to push to every path in repos and to
// read (and mount from) every path in readOnly. It checks the credentials against the
// registry's API root before returning.
func (c *Client) Pusher(ctx context.Context, host string, repos []string, readOnly ...string) (*Pusher, error) {
	return c.session(ctx, host, repos, readOnly)
}

// session makes a Pusher whose token covers push (and pull) on pushRepos and pull on pullRepos.
func (c *Client) session(ctx context.Context, host string, pushRepos, pullRepos []string) (*Pusher, error) {
	reg, err := name.NewRegistry(host, c.nameOptions()...)
	if err != nil {
		return nil, err
	}
	rt, err := c.authTransport(ctx, reg, pushRepos, pullRepos)
	if err != nil {
		return nil, describe(err)
	}
	p := &Pusher{c: c, host: host, base: c.scheme(ctx, host) + "://" + host + "/v2/", client: &http.Client{Transport: rt}}
	return p, p.checkAuth(ctx)
}

// checkAuth asks the registry's API root, so that refused credentials stop the run at once
// rather than failing every blob.
func (p *Pusher) checkAuth(ctx context.Context) error {
	resp, err := p.do(ctx, http.MethodGet, p.base, nil, -1, "")
	if err != nil {
		return fmt.Errorf("registry %s: %w", p.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, "registry "+p.host+" (give --username and --password-stdin, or log in with docker login)")
	}
	return nil
}

// Host is the registry host the pusher writes to.
func (p *Pusher) Host() string { return p.host }

// BlobExists reports whether repo already has the blob.
func (p *Pusher) BlobExists(ctx context.Context, repo, digest string) (bool, error) {
	return p.exists(ctx, repo, "blobs", digest)
}

// ManifestExists reports whether repo has a manifest with that digest.
func (p *Pusher) ManifestExists(ctx context.Context, repo, digest string) (bool, error) {
	return p.exists(ctx, repo, "manifests", digest)
}

// exists asks (HEAD) for repo's blob or manifest: 200 is yes, 404 is no, anything else an error.
func (p *Pusher) exists(ctx context.Context, repo, kind, digest string) (bool, error) {
	resp, err := p.do(ctx, http.MethodHead, p.base+repo+"/"+kind+"/"+digest, nil, -1, "")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, statusError(resp, fmt.Sprintf("check %s %s in %s", strings.TrimSuffix(kind, "s"), digest, repo))
}

// Mount asks the registry to link the blob from repository from into repo. It reports false,
// with no error, when the registry declined (it then has to be uploaded).
func (p *Pusher) Mount(ctx context.Context, repo, digest, from string) (bool, error) {
	u := p.base + repo + "/blobs/uploads/?mount=" + url.QueryEscape(digest) + "&from=" + url.QueryEscape(from)
	resp, err := p.do(ctx, http.MethodPost, u, nil, 0, "")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted: // an upload session was opened instead; let it expire
		if loc := resp.Header.Get("Location"); loc != "" {
			if r, err := p.do(ctx, http.MethodDelete, p.resolve(loc), nil, -1, ""); err == nil {
				r.Body.Close()
			}
		}
		return false, nil
	}
	return false, statusError(resp, fmt.Sprintf("mount blob %s into %s from %s", digest, repo, from))
}

// Upload sends a blob in one monolithic PUT: body must yield exactly size bytes hashing to
// digest, and should fail at its end otherwise, so the registry never commits bad content
// (the registry checks the digest as well).
func (p *Pusher) Upload(ctx context.Context, repo, digest string, size int64, body io.Reader) error {
	what := fmt.Sprintf("upload blob %s to %s", digest, repo)
	resp, err := p.do(ctx, http.MethodPost, p.base+repo+"/blobs/uploads/", nil, 0, "")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		defer resp.Body.Close()
		return statusError(resp, what)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return fmt.Errorf("%s: registry gave no upload location", what)
	}
	u, err := url.Parse(p.resolve(loc))
	if err != nil {
		return fmt.Errorf("%s: upload location: %w", what, err)
	}
	q := u.Query()
	q.Set("digest", digest)
	u.RawQuery = q.Encode()
	resp, err = p.do(ctx, http.MethodPut, u.String(), body, size, "application/octet-stream")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp, what)
	}
	return nil
}

// PutManifest pushes raw manifest bytes to repo under reference (a tag or the digest).
func (p *Pusher) PutManifest(ctx context.Context, repo, reference string, raw []byte, mediaType string) error {
	resp, err := p.do(ctx, http.MethodPut, p.base+repo+"/manifests/"+reference, bytes.NewReader(raw), int64(len(raw)), mediaType)
	if err != nil {
		return fmt.Errorf("put manifest %s:%s: %w", repo, reference, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp, fmt.Sprintf("put manifest %s/%s:%s (%s)", p.host, repo, reference, mediaType))
	}
	return nil
}

// ResolveTag fetches what repo:tag serves and returns the sha256 of the bytes served.
func (p *Pusher) ResolveTag(ctx context.Context, repo, tag string) (string, error) {
	resp, err := p.do(ctx, http.MethodGet, p.base+repo+"/manifests/"+tag, nil, -1, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError(resp, fmt.Sprintf("read back %s/%s:%s", p.host, repo, tag))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("read back %s/%s:%s: %w", p.host, repo, tag, err)
	}
	return verify.Digest(raw), nil
}

// do sends one request. A body that is a *bytes.Reader can be replayed by the retrying
// transport; any other body is sent once.
func (p *Pusher) do(ctx context.Context, method, u string, body io.Reader, size int64, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodGet || (method == http.MethodHead && strings.Contains(u, "/manifests/")) {
		req.Header.Set("Accept", strings.Join(AcceptManifests, ","))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, describe(err)
	}
	return resp, nil
}

// resolve makes an upload Location absolute.
func (p *Pusher) resolve(loc string) string {
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		return loc
	}
	b, _ := url.Parse(p.base)
	r, err := b.Parse(loc)
	if err != nil {
		return loc
	}
	return r.String()
}
