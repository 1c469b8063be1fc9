package testregistry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"             // auth "htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"                // auth "token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // storage "filesystem"
)

// File names Start uses inside its directory.
const (
	StorageDir   = "storage"  // the registry's filesystem storage
	HtpasswdFile = "htpasswd" // with WithAuth
	CAFileName   = "ca.pem"   // with WithTLS
)

var silenceLogrus sync.Once

// Start runs a Distribution registry in-process on 127.0.0.1 with a random port, storing under
// dir (created if missing; see StorageDir, HtpasswdFile, CAFileName). Without options it serves
// plain HTTP with no auth. Deletes are enabled; upload purging, redis, notifications and health
// checks are off.
//
// ctx bounds the start only: the registry runs until Close, which the caller must call.
// Start sends the process-wide logrus standard logger (which Distribution logs to) to io.Discard.
func Start(ctx context.Context, dir string, opts ...Option) (*Registry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.referrers {
		return nil, fmt.Errorf("testregistry: Distribution has no referrers API (use StartGGCR)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testregistry: %w", err)
	}
	silenceLogrus.Do(func() { logrus.SetOutput(io.Discard) })

	cfg := distributionConfig(dir)
	tokens, err := setAuth(cfg, c, dir)
	if err != nil {
		return nil, err
	}
	stopTokens := func() {
		if tokens != nil {
			_ = tokens.close()
		}
	}
	cert, pool, caFile, err := certificatesIn(dir, c.tls)
	if err != nil {
		stopTokens()
		return nil, err
	}
	app, err := newApp(context.WithoutCancel(ctx), cfg)
	if err != nil {
		stopTokens()
		return nil, err
	}
	r, err := serve(wrap(app, c, tokens), c, cert, pool)
	if err != nil {
		_ = app.Shutdown()
		stopTokens()
		return nil, err
	}
	r.CAFile = caFile
	r.Username, r.Password = c.username, c.password
	r.tokens = tokens
	r.shutdown = app.Shutdown
	if tokens != nil {
		if tokens.host == "" {
			tokens.host = r.Host
		}
		r.shutdown = func() error { return errors.Join(app.Shutdown(), tokens.close()) }
	}
	return r, nil
}

// distributionConfig is the registry's configuration, storing under dir, without auth.
func distributionConfig(dir string) *configuration.Configuration {
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "error"
	cfg.HTTP.Secret = rand.Text()
	cfg.Storage = configuration.Storage{
		"filesystem":  configuration.Parameters{"rootdirectory": filepath.Join(dir, StorageDir)},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		"delete":      configuration.Parameters{"enabled": true},
		"cache":       configuration.Parameters{"blobdescriptor": "inmemory"},
	}
	return cfg
}

// setAuth sets cfg's auth as c says: a token service it starts (returned; the caller closes
// it), or an htpasswd file written in dir, or none.
func setAuth(cfg *configuration.Configuration, c config, dir string) (*tokenService, error) {
	switch {
	case c.token != nil:
		tokens, jwks, err := startTokenService(dir, c.username, c.password, *c.token)
		if err != nil {
			return nil, fmt.Errorf("testregistry: token service: %w", err)
		}
		realm := "http://" + tokens.host + tokenPath
		if c.token.OnRegistryHost {
			realm = placeholderRealm
		}
		cfg.Auth = configuration.Auth{"token": configuration.Parameters{"realm": realm,
			"service": tokenAudience, "issuer": tokenIssuer, "jwks": jwks}}
		return tokens, nil
	case c.username != "":
		path := filepath.Join(dir, HtpasswdFile)
		if err := writeHtpasswd(path, c.username, c.password); err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{cachedHtpasswd: configuration.Parameters{"realm": "testregistry", "path": path}}
	}
	return nil, nil
}

// certificatesIn makes the registry's certificate and its CA, written to dir/CAFileName, when
// withTLS; nothing otherwise.
func certificatesIn(dir string, withTLS bool) (*tls.Certificate, *x509.CertPool, string, error) {
	if !withTLS {
		return nil, nil, "", nil
	}
	caPEM, crt, err := newCertificates()
	if err != nil {
		return nil, nil, "", err
	}
	caFile := filepath.Join(dir, CAFileName)
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		return nil, nil, "", fmt.Errorf("testregistry: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &crt, pool, caFile, nil
}

// wrap puts c's quirks, then the token service on the registry's own host, around app.
func wrap(app http.Handler, c config, tokens *tokenService) http.Handler {
	h := app
	if c.quirks != nil {
		h = c.quirks.wrap(app)
	}
	if tokens != nil && c.token.OnRegistryHost {
		scheme := "http"
		if c.tls {
			scheme = "https"
		}
		h = tokens.onHost(h, scheme)
	}
	return h
}

// newApp turns the panics by which handlers.NewApp reports a bad configuration into an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("testregistry: distribution: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}
