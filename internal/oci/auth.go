package oci

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// authTransport answers registries' authentication challenges itself, for every request of the
// client (pulls and pushes alike):
//
//   - A Basic challenge gets the registry's credentials on each request.
//   - A Bearer challenge (Docker token auth: Distribution, Harbor, GitLab, Quay, ghcr.io,
//     docker.io) gets a token per repository, asked of the realm the registry names: pull for
//     a read, pull and push for a push session, plus pull on the source of a mount, so at most
//     two scopes; never one token for every repository, which grows past what proxies accept
//     (Harbor's nginx: 414 on the token URL, 400 on an 8 KiB header; Quay: AuthHeaderTooLong).
//     Tokens are cached until they expire. A token service that refuses a request of two
//     scopes (400, 403, 414) is asked again with the repository's own scope alone.
//   - A realm is accepted anywhere (a site's token service sits on its own network, on
//     private addresses or another port of the registry's host) but on a link-local address
//     (169.254.0.0/16, fe80::/10: cloud metadata services live there), whatever the
//     registry, the one the operator named included: neither an address nor a name that
//     resolves to one is asked for a token.
//
// A request refused with a token just fetched for its very scopes is returned as it is: the
// registry refuses for another reason (a repository that does not exist yet, a project
// missing, no right to push), for the caller to tell. Safe for concurrent use.
type authTransport struct {
	base     http.RoundTripper
	keychain authn.Keychain
	lookup   func(ctx context.Context, host string) ([]net.IPAddr, error) // resolves a realm's host

	mu    sync.Mutex
	hosts map[string]*hostAuth

	tokenRequests atomic.Int64
}

// hostAuth is what one registry asked for, and its tokens.
type hostAuth struct {
	mu             sync.Mutex
	scheme         string // "" until challenged, "basic" or "bearer"
	realm, service string
	tokens         map[string]*token // by scope list
	oneScope       bool              // the token service refused two scopes at once
}

type token struct {
	mu      sync.Mutex // held while fetching
	value   string
	expires time.Time
}

func newAuthTransport(base http.RoundTripper, keychain authn.Keychain) *authTransport {
	return &authTransport{base: base, keychain: keychain, lookup: net.DefaultResolver.LookupIPAddr, hosts: map[string]*hostAuth{}}
}

type pushKey struct{}

// withPush marks requests made with ctx as part of a push: their tokens ask for push as well
// as pull, so that one token per repository serves the existence checks and the uploads.
func withPush(ctx context.Context) context.Context { return context.WithValue(ctx, pushKey{}, true) }

func (a *authTransport) host(h string) *hostAuth {
	a.mu.Lock()
	defer a.mu.Unlock()
	ha, ok := a.hosts[h]
	if !ok {
		ha = &hostAuth{tokens: map[string]*token{}}
		a.hosts[h] = ha
	}
	return ha
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ha := a.host(req.URL.Host)
	scopes := requestScopes(req)
	sent, err := a.authorize(req, ha, scopes, false, "")
	if err != nil {
		return nil, err
	}
	resp, err := a.base.RoundTrip(sent)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	ch, ok := parseChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return resp, nil
	}
	fresh, err := a.learn(req, ha, ch, sent.Header.Get("Authorization") != "")
	if err != nil { // a realm refused
		resp.Body.Close()
		return nil, err
	}
	if !fresh {
		// Nothing new to try: the registry refuses what was sent for another reason.
		resp.Header.Del("WWW-Authenticate") // and nothing above tries on its own
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// The body is gone: the caller tries again, and then has what it needs.
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	// What was refused: a token another request fetched meanwhile is used, not fetched again.
	refused := strings.TrimPrefix(sent.Header.Get("Authorization"), "Bearer ")
	retry, err := a.authorize(req, ha, scopes, true, refused)
	if err != nil {
		return nil, err
	}
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	resp, err = a.base.RoundTrip(retry)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Header.Del("WWW-Authenticate")
	}
	return resp, err
}

// learn takes in a challenge. It reports whether there is something new to send: basic
// credentials not sent yet, or a token (not sent yet, expired, or refused as invalid).
func (a *authTransport) learn(req *http.Request, ha *hostAuth, ch challenge, sentAuth bool) (bool, error) {
	ha.mu.Lock()
	defer ha.mu.Unlock()
	switch ch.scheme {
	case "basic":
		fresh := ha.scheme != "basic" || !sentAuth
		ha.scheme = "basic"
		return fresh, nil
	case "bearer":
		realm := ch.params["realm"]
		if err := a.checkRealm(realm, req.URL); err != nil {
			return false, err
		}
		fresh := ha.scheme != "bearer" || ha.realm != realm || !sentAuth || ch.params["error"] == "invalid_token"
		if ch.params["error"] == "invalid_token" {
			clear(ha.tokens)
		}
		ha.scheme, ha.realm, ha.service = "bearer", realm, ch.params["service"]
		return fresh, nil
	}
	return false, nil
}

// authorize returns req with the credentials or the token it needs, fetching a token if there
// is none for its scopes (or, with refresh, unless the one there is not the refused one).
func (a *authTransport) authorize(req *http.Request, ha *hostAuth, scopes []string, refresh bool, refused string) (*http.Request, error) {
	ha.mu.Lock()
	scheme := ha.scheme
	ha.mu.Unlock()
	out := req.Clone(req.Context())
	switch scheme {
	case "basic":
		cfg, err := a.credentials(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		if cfg.Username != "" || cfg.Password != "" {
			out.SetBasicAuth(cfg.Username, cfg.Password)
		}
	case "bearer":
		tok, err := a.token(req.Context(), req.URL, ha, scopes, refresh, refused)
		if err != nil {
			return nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok)
	}
	return out, nil
}

// credentials resolves the keychain's credentials for a registry host.
func (a *authTransport) credentials(ctx context.Context, host string) (*authn.AuthConfig, error) {
	reg, err := name.NewRegistry(host, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	auth, err := a.keychain.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("registry %s: credentials: %w", host, err)
	}
	return authn.Authorization(ctx, auth)
}
