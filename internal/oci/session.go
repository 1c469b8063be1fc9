package oci

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/google/go-containerregistry/pkg/name"
)

// Session is a conversation with one registry through the client's transport (its
// authentication, retries and limits): every request of this package to a registry is made by
// one. It reads manifests, blobs, tags and referrers, checks what the registry has, and (a push
// session) mounts and uploads blobs and pushes manifests. It learns what the registry refuses
// (mounts, large request bodies) and stops asking. Safe for concurrent use.
type Session struct {
	c     *Client
	host  string
	base  string // scheme://host/v2/
	push  bool   // tokens for push and pull
	chunk int64  // upload in chunks of this size from the start (WithChunkSize); 0: monolithic first
	noMnt atomic.Bool
	limit atomic.Int64 // the largest chunk the registry took after a 413; 0 until one
}

// PushSession returns a session for pushing to registry host. It checks the credentials
// against the registry's API root before returning.
func (c *Client) PushSession(ctx context.Context, host string) (*Session, error) {
	return c.session(ctx, host, true)
}

// ReadSession returns a session for reading what registry host holds (ListTags, GetManifest,
// BlobExists, ManifestExists, Referrers) with credentials that may not push. Like PushSession,
// it checks the credentials against the registry's API root before returning.
func (c *Client) ReadSession(ctx context.Context, host string) (*Session, error) {
	return c.session(ctx, host, false)
}

func (c *Client) session(ctx context.Context, host string, push bool) (*Session, error) {
	if _, err := name.NewRegistry(host, c.nameOptions()...); err != nil {
		return nil, err
	}
	s := &Session{c: c, host: host, base: c.scheme(ctx, host) + "://" + host + "/v2/", push: push, chunk: c.o.chunkSize}
	return s, s.checkAuth(ctx)
}

// checkAuth asks the registry's API root, so that refused credentials stop the run at once
// rather than failing every blob.
func (s *Session) checkAuth(ctx context.Context) error {
	resp, err := s.do(ctx, http.MethodGet, s.base, nil, -1, "")
	if err != nil {
		return fmt.Errorf("registry %s: %w", s.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		cfg, _ := s.c.auth.credentials(ctx, s.host)
		if cfg == nil || (cfg.Username == "" && cfg.Password == "" && cfg.IdentityToken == "" && cfg.RegistryToken == "") {
			return fmt.Errorf("registry %s %w", s.host, ErrNoCredentials)
		}
		return fmt.Errorf("registry %s refused the credentials of %q (HTTP 401): check the username and password: %w", s.host, cfg.Username, ErrUnauthorized)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, "registry "+s.host)
	}
	return nil
}

// Host is the registry host of the session.
func (s *Session) Host() string { return s.host }

// do sends one request. A body that is a *bytes.Reader can be replayed by the retrying
// transport; any other body is sent once. A GET, and a HEAD of a manifest, accepts the media
// types of manifest.MediaTypes.
func (s *Session) do(ctx context.Context, method, u string, body io.Reader, size int64, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(withPushIf(ctx, s.push), method, u, body)
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
		req.Header.Set("Accept", strings.Join(manifest.MediaTypes, ","))
	}
	return s.send(req)
}

// send sends a request made by the session's methods.
func (s *Session) send(req *http.Request) (*http.Response, error) {
	resp, err := s.c.http.Do(req)
	if err != nil {
		return nil, describe(stripURL(err))
	}
	return resp, nil
}

// stripURL drops the URL net/http puts in its errors: an upload's carries a session state in
// its query, and messages name the repository and blob anyway.
func stripURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// resolve makes a Location absolute.
func (s *Session) resolve(loc string) string {
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		return loc
	}
	b, _ := url.Parse(s.base)
	r, err := b.Parse(loc)
	if err != nil {
		return loc
	}
	return r.String()
}
