package oci

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// A Client's transport, from the wire up: the base (TLS, connections: baseTransport), retrying
// (retry.go: retries, the idle watchdog, stalls, the Budget), guard (guard.go: plain HTTP only
// where allowed), the user agent, authTransport (auth.go: tokens per repository, the realm
// policy), bodyLimits (limits.go: our caps on what a registry sends), the user agent again for
// the requests above. Token requests go from authTransport straight to the user agent and the
// guard: they are retried, guarded and capped (maxTokenBytes) like every other request.

// maxIdlePerHost is how many idle connections to one registry are kept for the next request:
// more than any operation runs at once (a push of 16 jobs reads 64 manifests at once),
// so that none is dialled twice. An idle connection costs a file descriptor and a few KiB.
const maxIdlePerHost = 128

// baseTransport builds the HTTP transport from the TLS options: TLS 1.2 at least, the system
// roots and the CA file's certificates, idle connections kept (maxIdlePerHost), proxies from
// the environment.
func (o *options) baseTransport() (http.RoundTripper, error) {
	if o.transport != nil {
		return o.transport, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// A dial gives up after 5 s (or the timeout, if shorter): a host that does not answer is
	// tried again by retrying, within its bounds, rather than waited for.
	t.DialContext = (&net.Dialer{Timeout: min(5*time.Second, o.timeout), KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = o.timeout
	t.MaxIdleConns = 0 // no bound across hosts; per host:
	t.MaxIdleConnsPerHost = maxIdlePerHost
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.skipVerify} //nolint:gosec // only when asked
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w %s: no PEM certificate in it", ErrCAFile, o.caFile)
		}
		cfg.RootCAs = pool
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// keychain is where credentials come from: WithCredentials' for its host, then the Docker
// config and its credential helpers.
func (o *options) keychain() authn.Keychain {
	if o.user == "" {
		return authn.DefaultKeychain
	}
	return authn.NewMultiKeychain(static{host: o.host, auth: authn.FromConfig(authn.AuthConfig{Username: o.user, Password: o.password})}, authn.DefaultKeychain)
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
