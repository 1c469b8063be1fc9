package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Client reaches registries with one set of credentials, TLS settings and limits.
// Safe for concurrent use.
type Client struct {
	o       options
	base    http.RoundTripper // guarded: plain HTTP only where allowed; retrying
	auth    *authTransport    // base, with the registries' authentication
	bounded http.RoundTripper // auth, with our caps on response bodies (limits.go)
	http    *http.Client      // auth, with the user agent
	puller  *remote.Puller

	mu      sync.Mutex
	schemes map[string]string // registry host -> "https" or "http"
}

// New makes a Client. Defaults: 4 jobs, Docker config credentials, system TLS roots.
func New(opts ...Option) (*Client, error) {
	o := options{jobs: DefaultJobs, userAgent: "ess-airgap", timeout: DefaultTimeout, attempts: DefaultAttempts, retryTime: DefaultRetryTime}
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
	var keychain authn.Keychain = authn.DefaultKeychain
	if o.user != "" {
		keychain = authn.NewMultiKeychain(static{host: o.host, auth: authn.FromConfig(authn.AuthConfig{Username: o.user, Password: o.password})}, authn.DefaultKeychain)
	}
	c.auth = newAuthTransport(userAgent{c.base, o.userAgent}, keychain)
	c.bounded = bodyLimits{c.auth}
	c.http = &http.Client{Transport: userAgent{c.bounded, o.userAgent}}
	c.puller, err = remote.NewPuller(c.remoteOptions()...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Jobs is the concurrency limit the client was made with.
func (c *Client) Jobs() int { return c.o.jobs }

// MetadataJobs is the concurrency limit of small reads (manifests, configs, referrers): each is
// a round trip or two and hardly any bytes, so over a site's uplink the limit of the blob
// transfers would leave the link idle while they wait.
func (c *Client) MetadataJobs() int { return metadataJobs(c.o.jobs) }

func metadataJobs(jobs int) int { return 4 * jobs }

// TokenRequests is the number of tokens asked of registries' token services so far.
func (c *Client) TokenRequests() int64 { return c.auth.tokenRequests.Load() }

func (c *Client) remoteOptions() []remote.Option {
	// Authentication happens in our transport (c.auth), which go-containerregistry then sees
	// as a registry that needs none; retries happen in c.base, with Retry-After and a time
	// bound: one attempt here.
	return []remote.Option{remote.WithAuth(authn.Anonymous), remote.WithTransport(c.bounded),
		remote.WithJobs(c.o.jobs), remote.WithUserAgent(c.o.userAgent), remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
}

// userAgent sets the User-Agent of every request.
type userAgent struct {
	rt http.RoundTripper
	ua string
}

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", u.ua)
	}
	return u.rt.RoundTrip(req)
}

// ParseReference parses "host/path:tag" or "host/path@digest" strictly (no Docker Hub
// defaults), for a pull: a host with a mirror (WithMirror) is replaced by the mirror's
// location and prefix.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	r, _, err := c.pullReference(s)
	return r, err
}

// pullReference is ParseReference, and the mirror the reference goes through (nil: none).
func (c *Client) pullReference(s string) (name.Reference, *Mirror, error) {
	at, m := c.via(s)
	r, err := name.ParseReference(at, c.nameOptions()...)
	return r, m, err
}

// repository parses "host/path" for a pull, through its mirror if it has one (nil: none).
func (c *Client) repository(s string) (name.Repository, *Mirror, error) {
	at, m := c.via(s)
	r, err := name.NewRepository(at, c.nameOptions()...)
	return r, m, err
}

// nameOptions: strict names, and plain HTTP allowed when --plain-http.
func (c *Client) nameOptions() []name.Option {
	if c.o.plainHTTP {
		return []name.Option{name.StrictValidation, name.Insecure}
	}
	return []name.Option{name.StrictValidation}
}

// static is a keychain with credentials for one registry host.
type static struct {
	host string
	auth authn.Authenticator
}

func (s static) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == s.host {
		return s.auth, nil
	}
	return authn.Anonymous, nil
}

// IsLoopback reports whether host (host[:port]) names this machine: 127.0.0.0/8, ::1 or localhost.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ErrPlainHTTP is returned for a plain-HTTP request to a non-loopback registry without --plain-http.
var ErrPlainHTTP = errors.New("plain HTTP is only used for loopback registries unless --plain-http is given")

// guard refuses plain HTTP to registries that are not on this machine, unless allowed.
type guard struct {
	rt        http.RoundTripper
	plainHTTP bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainHTTP && !IsLoopback(req.URL.Host) {
		return nil, fmt.Errorf("registry %s: %w", req.URL.Host, ErrPlainHTTP)
	}
	return g.rt.RoundTrip(req)
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
