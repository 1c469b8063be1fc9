package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

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
