package testregistry_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// tokenAnswer is what the token service answered: its status, and the token's claims.
type tokenAnswer struct {
	status    int
	body      string
	expiresIn int
	claims    struct {
		Sub    string `json:"sub"`
		Aud    string `json:"aud"`
		Exp    int64  `json:"exp"`
		Iat    int64  `json:"iat"`
		Access []struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
}

// token asks r's token service for scopes, with basic auth when user is not "".
func token(t *testing.T, r *testregistry.Registry, user, pw string, scopes ...string) tokenAnswer {
	t.Helper()
	q := url.Values{"service": {"testregistry"}, "scope": scopes}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+r.TokenHost()+"/token?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	a.status = resp.StatusCode
	var body struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	raw := new(strings.Builder)
	if err := json.NewDecoder(io.TeeReader(resp.Body, raw)).Decode(&body); err != nil || body.Token == "" {
		a.body = raw.String()
		return a
	}
	a.expiresIn = body.ExpiresIn
	parts := strings.Split(body.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", body.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &a.claims); err != nil {
		t.Fatal(err)
	}
	return a
}

// actions lists the access the token grants, "type:name:action,action" each.
func (a tokenAnswer) actions() []string {
	var out []string
	for _, g := range a.claims.Access {
		out = append(out, g.Type+":"+g.Name+":"+strings.Join(g.Actions, ","))
	}
	return out
}

// TestTokenService: what the token service grants, by credentials, options and scope.
func TestTokenService(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithTokenAuth("alice", "s3cret", testregistry.TokenOptions{
		Projects: []string{"ess", "localhost:5000"}, TTL: time.Minute}))
	anon := testregistry.StartT(t, testregistry.WithTokenAuth("alice", "s3cret", testregistry.TokenOptions{AnonymousPull: true}))
	cases := []struct {
		name      string
		r         *testregistry.Registry
		user, pw  string
		scopes    []string
		status    int
		granted   []string
		expiresIn int
	}{
		{"pull and push", r, "alice", "s3cret", []string{"repository:ess/app:pull,push"}, 200, []string{"repository:ess/app:pull,push"}, 60},
		{"two scopes in one parameter", r, "alice", "s3cret", []string{"repository:ess/a:pull repository:ess/b:push"}, 200,
			[]string{"repository:ess/a:pull", "repository:ess/b:push"}, 60},
		{"a name with a port", r, "alice", "s3cret", []string{"repository:localhost:5000/x:pull"}, 200, []string{"repository:localhost:5000/x:pull"}, 60},
		{"a missing project", r, "alice", "s3cret", []string{"repository:other/app:pull,push"}, 200, []string{"repository:other/app:"}, 60},
		{"a malformed scope", r, "alice", "s3cret", []string{"pull"}, 200, nil, 60},
		{"wrong password", r, "alice", "nope", []string{"repository:ess/app:pull"}, 401, nil, 0},
		{"anonymous", r, "", "", []string{"repository:ess/app:pull"}, 200, []string{"repository:ess/app:"}, 60},
		{"anonymous pull", anon, "", "", []string{"repository:ess/app:pull,push"}, 200, []string{"repository:ess/app:pull"}, 300},
		{"anonymous push only", anon, "", "", []string{"repository:ess/app:push"}, 200, []string{"repository:ess/app:"}, 300},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := token(t, c.r, c.user, c.pw, c.scopes...)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if c.status != 200 {
				if !strings.Contains(a.body, "UNAUTHORIZED") {
					t.Errorf("refusal %q", a.body)
				}
				return
			}
			if got := a.actions(); !slices.Equal(got, c.granted) {
				t.Errorf("granted %q, want %q", got, c.granted)
			}
			if a.expiresIn != c.expiresIn || a.claims.Exp-a.claims.Iat != int64(c.expiresIn) || a.claims.Aud != "testregistry" || a.claims.Sub != c.user {
				t.Errorf("expires_in %d, exp-iat %d, aud %q, sub %q", a.expiresIn, a.claims.Exp-a.claims.Iat, a.claims.Aud, a.claims.Sub)
			}
		})
	}
	if n, _ := r.TokenRequests(); n != 7 {
		t.Errorf("TokenRequests: %d, want 7", n)
	}
}

// TestTokenLimits: a token service that caps scopes per request (403 DENIED) or the length of
// its URL (nginx's 414), and counts the most scopes asked at once.
func TestTokenLimits(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithTokenAuth("alice", "s3cret", testregistry.TokenOptions{MaxScopes: 2, MaxURL: 300}))
	if a := token(t, r, "alice", "s3cret", "repository:a:pull", "repository:b:pull"); a.status != 200 {
		t.Fatalf("two scopes: %d %s", a.status, a.body)
	}
	a := token(t, r, "alice", "s3cret", "repository:a:pull", "repository:b:pull", "repository:c:pull")
	if a.status != http.StatusForbidden || !strings.Contains(a.body, "too many scopes: 3, at most 2") {
		t.Fatalf("three scopes: %d %s", a.status, a.body)
	}
	a = token(t, r, "alice", "s3cret", "repository:"+strings.Repeat("x", 300)+":pull")
	if a.status != http.StatusRequestURITooLong {
		t.Fatalf("a long URL: %d %s", a.status, a.body)
	}
	n, most := r.TokenRequests()
	if n != 3 || most != 3 {
		t.Errorf("TokenRequests: %d requests, at most %d scopes; want 3, 3", n, most)
	}
	plain := testregistry.StartT(t)
	if n, most := plain.TokenRequests(); n != 0 || most != 0 || plain.TokenHost() != "" {
		t.Errorf("without token auth: %d, %d, %q", n, most, plain.TokenHost())
	}
}

// TestTokenChallenge: the registry challenges with the token service's realm, on a port of its
// own, and takes the token the service issues.
func TestTokenChallenge(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithTokenAuth("alice", "s3cret", testregistry.TokenOptions{}))
	resp, _, err := do(t, nil, r, http.MethodGet, "/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(ch, `realm="http://`+r.TokenHost()+`/token"`) || r.TokenHost() == r.Host {
		t.Fatalf("challenge %d %q", resp.StatusCode, ch)
	}
	q := url.Values{"service": {"testregistry"}, "scope": {"repository:ess/app:pull"}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+r.TokenHost()+"/token?"+q.Encode(), nil)
	req.SetBasicAuth("alice", "s3cret")
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Token string }
	json.NewDecoder(tr.Body).Decode(&body)
	tr.Body.Close()
	for _, c := range []struct {
		path string
		want int
	}{{"/v2/ess/app/tags/list", http.StatusNotFound}, {"/v2/ess/other/tags/list", http.StatusUnauthorized}} {
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, baseURL(r)+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+body.Token)
		resp, err := (&http.Client{Transport: r.Transport()}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s with a token for ess/app: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
}
