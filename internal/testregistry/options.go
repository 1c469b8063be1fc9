package testregistry

import (
	"fmt"
	"strings"
)

// Option configures Start and StartGGCR.
type Option func(*config)

type config struct {
	username, password string
	tls                bool
	faults             *Faults
	token              *TokenOptions
	quirks             *Quirks
	referrers          bool
}

// WithAuth requires HTTP basic auth with this username and password (default: no auth).
// Start writes them to an htpasswd file (bcrypt, mode 0600) in its directory.
func WithAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithTLS serves HTTPS with a certificate for 127.0.0.1, ::1 and localhost, signed by a CA
// generated for this registry (ECDSA P-256). Default: plain HTTP.
func WithTLS() Option {
	return func(c *config) { c.tls = true }
}

// WithFaults injects the failures f describes into the registry's HTTP handling (default: none;
// a nil f injects nothing). f may be changed while the registry runs, and may be shared by
// several registries, which then draw from one sequence.
func WithFaults(f *Faults) Option {
	return func(c *config) { c.faults = f }
}

// WithReferrersAPI serves the OCI 1.1 referrers API (GET /v2/<name>/referrers/<digest>).
// Only StartGGCR has it (go-containerregistry's WithReferrersSupport); Distribution v3 has no
// referrers API, and Start refuses the option. Default: off, as in both.
func WithReferrersAPI() Option {
	return func(c *config) { c.referrers = true }
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.username != "" || c.password != "" {
		if c.username == "" || strings.Contains(c.username, ":") {
			return c, fmt.Errorf("testregistry: username must be non-empty and contain no ':', got %q", c.username)
		}
		if c.password == "" {
			return c, fmt.Errorf("testregistry: password must be non-empty")
		}
	}
	return c, nil
}
