package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
)

// Client is the one way to registries: one set of credentials, TLS settings, mirrors, retries
// and caps, and one HTTP transport (transport.go) under every request. A Session is a
// conversation with one registry through it (PushSession, ReadSession); the pulls of Client's
// own methods (GetManifest, OpenBlob, OpenBlobAt, Referrers, ListTags) go through a Session of
// the registry, or of its mirror (WithMirror), and read WithLocal's content first.
//
// A Client sets no limit on concurrent requests: each operation that uses it runs its own
// pool (one per operation, never one inside another). Safe for concurrent use.
type Client struct {
	o    options
	base http.RoundTripper // guarded: plain HTTP only where allowed; retrying
	auth *authTransport    // base, with the registries' authentication
	http *http.Client      // auth, with our caps on response bodies (limits.go) and the user agent

	mu      sync.Mutex
	schemes map[string]string // registry host -> "https" or "http"
}

// New makes a Client. Defaults: Docker config credentials, system TLS roots, the retries and
// timeout of DefaultAttempts, DefaultRetryTime and DefaultTimeout.
func New(opts ...Option) (*Client, error) {
	o := options{userAgent: "ess-airgap", timeout: DefaultTimeout, attempts: DefaultAttempts, retryTime: DefaultRetryTime}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	rt, err := o.baseTransport()
	if err != nil {
		return nil, err
	}
	rt = newRetrying(rt, o.attempts, o.retryTime, o.timeout)
	c := &Client{o: o, base: &guard{rt: rt, plainHTTP: o.plainHTTP}, schemes: map[string]string{}}
	c.auth = newAuthTransport(userAgent{c.base, o.userAgent}, o.keychain())
	c.http = &http.Client{Transport: userAgent{bodyLimits{c.auth}, o.userAgent}}
	return c, nil
}

// TokenRequests is the number of tokens asked of registries' token services so far.
func (c *Client) TokenRequests() int64 { return c.auth.tokenRequests.Load() }

// reader is a read session of registry host, for a pull: no check of the credentials first
// (the request itself is the check), tokens for pull only.
func (c *Client) reader(ctx context.Context, host string) *Session {
	return &Session{c: c, host: host, base: c.scheme(ctx, host) + "://" + host + "/v2/"}
}

// scheme finds how to reach a registry: https, or http when allowed and https does not answer.
func (c *Client) scheme(ctx context.Context, host string) string {
	c.mu.Lock()
	s, ok := c.schemes[host]
	c.mu.Unlock()
	if ok {
		return s
	}
	s = "https"
	if c.o.plainHTTP || IsLoopback(host) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
		resp, err := c.base.RoundTrip(req)
		var cerr *tls.CertificateVerificationError
		switch {
		case err == nil:
			resp.Body.Close()
		case !errors.As(err, &cerr): // it does not speak TLS: plain HTTP
			s = "http"
		}
	}
	c.mu.Lock()
	c.schemes[host] = s
	c.mu.Unlock()
	return s
}
