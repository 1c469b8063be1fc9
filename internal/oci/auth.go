package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// authTransport answers registries' authentication challenges itself, for every request of the
// client (pulls through go-containerregistry, pushes through our own requests):
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
		resp.Header.Del("WWW-Authenticate") // and go-containerregistry must not try on its own
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

// token returns a token for scopes, from the cache or the realm. With refresh it fetches a new
// one unless the cache holds one other than refused (fetched by a request that was challenged
// at the same time: one token a repository, however many requests start together).
func (a *authTransport) token(ctx context.Context, reg *url.URL, ha *hostAuth, scopes []string, refresh bool, refused string) (string, error) {
	ha.mu.Lock()
	if ha.oneScope && len(scopes) > 1 {
		scopes = scopes[:1]
	}
	key := strings.Join(scopes, " ")
	t, ok := ha.tokens[key]
	if !ok {
		t = &token{}
		ha.tokens[key] = t
	}
	realm, service := ha.realm, ha.service
	ha.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != "" && (!refresh || t.value != refused) && time.Now().Before(t.expires) {
		return t.value, nil
	}
	value, ttl, err := a.fetchToken(ctx, reg.Host, realm, service, scopes)
	var se *tokenStatusError
	if err != nil && len(scopes) > 1 && errors.As(err, &se) && se.fewerMayPass() {
		// A token service (or the proxy in front of it) that takes one scope at a time: the
		// mount source's pull scope is dropped, and a mount from it then fails into an upload.
		ha.mu.Lock()
		ha.oneScope = true
		ha.mu.Unlock()
		value, ttl, err = a.fetchToken(ctx, reg.Host, realm, service, scopes[:1])
	}
	if err != nil {
		return "", err
	}
	t.value, t.expires = value, time.Now().Add(ttl)
	return value, nil
}

// fetchToken asks the realm for a token (Docker token authentication: GET with the scopes as
// query parameters and the registry's credentials, if any, as basic auth; or an OAuth2 refresh
// token POST when the credentials are an identity token).
func (a *authTransport) fetchToken(ctx context.Context, host, realm, service string, scopes []string) (string, time.Duration, error) {
	a.tokenRequests.Add(1)
	cfg, err := a.credentials(ctx, host)
	if err != nil {
		return "", 0, err
	}
	if cfg.RegistryToken != "" {
		return cfg.RegistryToken, time.Hour, nil
	}
	u, err := url.Parse(realm)
	if err != nil {
		return "", 0, fmt.Errorf("registry %s: token realm %q: %w", host, realm, err)
	}
	if err := a.checkRealmAddrs(ctx, host, u); err != nil {
		return "", 0, err
	}
	var req *http.Request
	if cfg.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cfg.IdentityToken}, "client_id": {"ess-airgap"}}
		if service != "" {
			form.Set("service", service)
		}
		if len(scopes) > 0 {
			form.Set("scope", strings.Join(scopes, " "))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		q := u.Query()
		if service != "" {
			q.Set("service", service)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err == nil && (cfg.Username != "" || cfg.Password != "") {
			req.SetBasicAuth(cfg.Username, cfg.Password)
		}
	}
	if err != nil {
		return "", 0, err
	}
	resp, err := a.base.RoundTrip(req)
	if err != nil {
		return "", 0, fmt.Errorf("token service %s (of %s): %w", u.Host, host, stripURL(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxTokenBytes))
	if resp.StatusCode != http.StatusOK {
		return "", 0, &tokenStatusError{host: host, realmHost: u.Host, code: resp.StatusCode, body: body, scopes: len(scopes)}
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || (tr.Token == "" && tr.AccessToken == "") {
		return "", 0, fmt.Errorf("token service %s (of %s) gave no token", u.Host, host)
	}
	if tr.Token == "" {
		tr.Token = tr.AccessToken
	}
	// The token specification's default lifetime is 60 s; refresh a little before the end.
	ttl := time.Duration(max(tr.ExpiresIn, 60))*time.Second - 10*time.Second
	return tr.Token, ttl, nil
}

// tokenStatusError is a token service's refusal.
type tokenStatusError struct {
	host, realmHost string
	code            int
	body            []byte
	scopes          int
}

func (e *tokenStatusError) Error() string {
	msg := fmt.Sprintf("token service %s (of %s) answered HTTP %d", e.realmHost, e.host, e.code)
	if m := registryMessage(e.body); m != "" {
		msg += " (" + m + ")"
	}
	if e.code == http.StatusUnauthorized {
		msg += ": check the username and password"
	}
	return msg
}

// Unwrap makes a refusal of the credentials an ErrUnauthorized.
func (e *tokenStatusError) Unwrap() error {
	if e.code == http.StatusUnauthorized || e.code == http.StatusForbidden {
		return ErrUnauthorized
	}
	return nil
}

// fewerMayPass: a refusal that asking for fewer scopes may avoid (a URL or header too long, a
// cap on scopes per request answered as a bad request or a denial).
func (e *tokenStatusError) fewerMayPass() bool {
	switch e.code {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return true
	}
	return false
}

// checkRealm applies the realm policy of authTransport to a challenge from the registry at reg.
func (a *authTransport) checkRealm(realm string, reg *url.URL) error {
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return fmt.Errorf("registry %s: token realm %q is not a URL", reg.Host, realm)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (reg.Scheme == "http" || IsLoopback(u.Host)):
	default:
		return fmt.Errorf("registry %s: token realm %s: only https (or http for a plain-HTTP registry) carries credentials", reg.Host, u.Redacted())
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && linkLocal(ip) {
		return linkLocalRealm(reg.Host, u.Host, "")
	}
	return nil
}

// checkRealmAddrs refuses a realm whose host name resolves to a link-local address.
func (a *authTransport) checkRealmAddrs(ctx context.Context, host string, realm *url.URL) error {
	if net.ParseIP(realm.Hostname()) != nil {
		return nil // checkRealm did
	}
	addrs, err := a.lookup(ctx, realm.Hostname())
	if err != nil {
		return nil // the request will say it
	}
	for _, ad := range addrs {
		if linkLocal(ad.IP) {
			return linkLocalRealm(host, realm.Host, ad.IP.String())
		}
	}
	return nil
}

func linkLocal(ip net.IP) bool { return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() }

func linkLocalRealm(registry, realmHost, ip string) error {
	at := "is a link-local address"
	if ip != "" {
		at = "resolves to the link-local address " + ip
	}
	return fmt.Errorf("%w: registry %s: token realm %s %s (where cloud metadata services answer): refused, whatever the registry; "+
		"have the registry name its token service at another address", ErrRealm, registry, realmHost, at)
}

// requestScopes returns the token scopes a registry request needs: pull (and push in a push
// session, or for a write) on the repository its path names, plus pull on a mount's source.
func requestScopes(req *http.Request) []string {
	repo, ok := pathRepository(req.URL.Path)
	if !ok {
		if strings.HasPrefix(req.URL.Path, "/v2/_catalog") {
			return []string{"registry:catalog:*"}
		}
		return nil
	}
	actions := "pull"
	if push, _ := req.Context().Value(pushKey{}).(bool); push || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		actions = "pull,push"
	}
	scopes := []string{"repository:" + repo + ":" + actions}
	if from := req.URL.Query().Get("from"); from != "" && from != repo {
		scopes = append(scopes, "repository:"+from+":pull")
	}
	return scopes
}

// pathRepository returns the repository of a registry API path: /v2/<name>/(blobs|manifests|
// tags|referrers)/...
func pathRepository(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", false
	}
	at := -1 // the last marker: a repository name may hold "blobs" or "manifests" as a component
	for _, kind := range []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"} {
		at = max(at, strings.LastIndex(rest, kind))
	}
	if at <= 0 {
		return "", false
	}
	return rest[:at], true
}

// challenge is a parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string // lower case
	params map[string]string
}

// parseChallenge returns the first Bearer or Basic challenge of WWW-Authenticate values.
func parseChallenge(values []string) (challenge, bool) {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		scheme = strings.ToLower(scheme)
		if scheme != "bearer" && scheme != "basic" {
			continue
		}
		return challenge{scheme: scheme, params: parseParams(rest)}, true
	}
	return challenge{}, false
}

// parseParams parses auth-params: key=value or key="quoted, value", separated by commas.
func parseParams(s string) map[string]string {
	params := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val, s = b.String(), s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		params[key] = val
		s = strings.TrimLeft(strings.TrimSpace(s), ",")
		s = strings.TrimSpace(s)
	}
	return params
}
