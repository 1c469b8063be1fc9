package testregistry

import (
	"crypto/x509"
	"io"
	"log"

	"github.com/google/go-containerregistry/pkg/registry"
)

// StartGGCR starts go-containerregistry's in-memory registry (pkg/registry) on 127.0.0.1 with a
// random port: fast, everything in memory, blobs shared by all repositories. WithTLS works
// (CAFile stays "": use CAPool or Transport); WithAuth returns ErrAuthUnsupported.
// The caller must Close it.
func StartGGCR(opts ...Option) (*Registry, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.username != "" {
		return nil, ErrAuthUnsupported
	}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(c.referrers))
	if !c.tls {
		return serve(h, c, nil, nil)
	}
	caPEM, cert, err := newCertificates()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return serve(h, c, &cert, pool)
}
