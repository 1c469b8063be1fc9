package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TokenOptions shape the token service of WithTokenAuth after the token services sites run.
type TokenOptions struct {
	// MaxScopes, when > 0, refuses a token request of more scopes with 403 DENIED (a token
	// service that caps scopes per request).
	MaxScopes int
	// MaxURL, when > 0, refuses a token request whose URL (path and query) is longer with
	// 414, as nginx does past its 8 KiB header buffers (Harbor's /service/token: harbor #14414).
	MaxURL int
	// Projects, when set, are the Harbor projects that exist (a repository's first path
	// element): a scope in another project is granted no access, as Harbor's token service
	// does (harbor #6892, #17097), and the registry then refuses it.
	Projects []string
	// TTL is the tokens' lifetime (expires_in). Default 300 s.
	TTL time.Duration
	// AnonymousPull grants pull to token requests without credentials, as ghcr.io and
	// docker.io do for public images (a token per repository). Default: no access.
	AnonymousPull bool
	// OnRegistryHost serves the token service at /token on the registry's own host:port, and
	// names in each challenge the host:port the request came to (so a proxy in front of the
	// registry, which changes the port, is named). go-containerregistry refuses a realm on a
	// private address that is not the registry's own host:port, so crane needs this; our client
	// accepts either. Default: the service listens on a port of its own.
	OnRegistryHost bool
}

// WithTokenAuth makes the registry use token authentication (Distribution's `auth: token`), with
// a token service of its own that takes username and password (basic auth) and issues signed
// JWTs. The service listens on another port of 127.0.0.1, so the realm is on a private address
// and not the registry's host:port, as on sites (REGISTRIES.md), unless o.OnRegistryHost.
// Anonymous token requests get tokens with no access unless o.AnonymousPull. Default: no token
// auth.
func WithTokenAuth(username, password string, o TokenOptions) Option {
	return func(c *config) {
		c.username, c.password = username, password
		c.token = &o
	}
}

// tokenService issues JWTs for the registry's token auth.
type tokenService struct {
	o        TokenOptions
	user, pw string
	key      *ecdsa.PrivateKey
	kid      string
	srv      *http.Server
	host     string
	requests atomic.Int64
	mu       sync.Mutex
	maxScope int // the most scopes asked in one request
}

// startTokenService starts the service and writes its JWKS (the public key Distribution trusts)
// into dir. With o.OnRegistryHost it does not listen: onHost serves it.
func startTokenService(dir, user, pw string, o TokenOptions) (*tokenService, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	if o.TTL == 0 {
		o.TTL = 300 * time.Second
	}
	t := &tokenService{o: o, user: user, pw: pw, key: key, kid: rand.Text()[:16]}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: t.kid, Algorithm: string(jose.ES256), Use: "sig"}}})
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwks, 0o644); err != nil {
		return nil, "", err
	}
	if o.OnRegistryHost {
		return t, path, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	t.host = ln.Addr().String()
	t.srv = &http.Server{Handler: http.HandlerFunc(t.serve), ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = t.srv.Serve(ln) }()
	return t, path, nil
}

// close stops the service's own listener, if it has one.
func (t *tokenService) close() error {
	if t.srv == nil {
		return nil
	}
	return t.srv.Close()
}

// tokenPath is where the service answers on the registry's host (OnRegistryHost), and
// placeholderRealm the realm Distribution is configured with then, replaced in every challenge
// by the host the request came to.
const (
	tokenPath        = "/token"
	placeholderRealm = "http://127.0.0.1:1" + tokenPath // loopback, closed: never reached
)

// onHost serves the token service at tokenPath in front of h, and names the request's own
// host (scheme://Host/token) as the realm of h's challenges.
func (t *tokenService) onHost(h http.Handler, scheme string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			t.serve(w, r)
			return
		}
		h.ServeHTTP(&realmWriter{ResponseWriter: w, realm: scheme + "://" + r.Host + tokenPath}, r)
	})
}

// realmWriter puts realm in place of placeholderRealm in the WWW-Authenticate header.
type realmWriter struct {
	http.ResponseWriter
	realm string
	wrote bool
}

func (w *realmWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if vs := h.Values("WWW-Authenticate"); len(vs) > 0 {
			h.Del("WWW-Authenticate")
			for _, v := range vs {
				h.Add("WWW-Authenticate", strings.Replace(v, placeholderRealm, w.realm, 1))
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *realmWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *realmWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

const (
	tokenIssuer   = "testregistry-token-service"
	tokenAudience = "testregistry"
)

func (t *tokenService) serve(w http.ResponseWriter, r *http.Request) {
	t.requests.Add(1)
	if t.o.MaxURL > 0 && len(r.URL.RequestURI()) > t.o.MaxURL {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusRequestURITooLong)
		io.WriteString(w, "<html><head><title>414 Request-URI Too Large</title></head><body><center><h1>414 Request-URI Too Large</h1></center><hr><center>nginx</center></body></html>\n")
		return
	}
	user, pw, hasAuth := r.BasicAuth()
	if hasAuth && (user != t.user || pw != t.pw) {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	scopes := r.URL.Query()["scope"]
	t.mu.Lock()
	t.maxScope = max(t.maxScope, len(scopes))
	t.mu.Unlock()
	if t.o.MaxScopes > 0 && len(scopes) > t.o.MaxScopes {
		writeError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("too many scopes: %d, at most %d", len(scopes), t.o.MaxScopes))
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	var granted []access
	for _, s := range scopes {
		for _, one := range strings.Fields(s) {
			parts := strings.Split(one, ":")
			if len(parts) < 3 {
				continue
			}
			typ, name, actions := parts[0], strings.Join(parts[1:len(parts)-1], ":"), strings.Split(parts[len(parts)-1], ",")
			switch {
			case !t.projectExists(name):
				actions = nil // Harbor's empty access for a missing project
			case !hasAuth && t.o.AnonymousPull && slices.Contains(actions, "pull"):
				actions = []string{"pull"}
			case !hasAuth:
				actions = nil
			}
			granted = append(granted, access{Type: typ, Name: name, Actions: actions})
		}
	}
	now := time.Now()
	claims := map[string]any{
		"iss": tokenIssuer, "sub": user, "aud": tokenAudience, "exp": now.Add(t.o.TTL).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": rand.Text(), "access": granted,
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: t.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", t.kid))
	if err == nil {
		var tok string
		if tok, err = jwt.Signed(signer).Claims(claims).Serialize(); err == nil {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": int(t.o.TTL.Seconds()), "issued_at": now.UTC().Format(time.RFC3339)})
			return
		}
	}
	writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
}

func (t *tokenService) projectExists(repo string) bool {
	if len(t.o.Projects) == 0 {
		return true
	}
	project, _, _ := strings.Cut(repo, "/")
	for _, p := range t.o.Projects {
		if p == project {
			return true
		}
	}
	return false
}
