package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/authn"
)

// testBlob is a Blob of b.
func testBlob(b []byte) Blob {
	return Blob{Digest: verify.Digest(b), Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(verify.NewReader(bytes.NewReader(b), verify.Digest(b), int64(len(b)))), nil
		}}
}

// pushImage pushes a one-layer OCI image to repo:tag through s, mounting the layer from
// from when given, and returns the manifest's digest.
func pushImage(t *testing.T, s *Session, repo, tag string, layer []byte, from string) string {
	t.Helper()
	ctx := t.Context()
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"repo":%q}`, repo))
	for _, b := range [][]byte{config, layer} {
		session := ""
		if from != "" && bytes.Equal(b, layer) {
			ok, sess, err := s.Mount(ctx, repo, verify.Digest(b), from)
			if err != nil {
				t.Fatalf("mount into %s: %v", repo, err)
			}
			if ok {
				continue
			}
			session = sess
		}
		if ok, err := s.BlobExists(ctx, repo, verify.Digest(b)); err != nil || ok {
			t.Fatalf("BlobExists(%s) = %v, %v before the upload", repo, ok, err)
		}
		if err := s.Upload(ctx, repo, testBlob(b), session); err != nil {
			t.Fatalf("upload to %s: %v", repo, err)
		}
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		verify.Digest(config), len(config), verify.Digest(layer), len(layer)))
	if err := s.PutManifest(ctx, repo, tag, m, "application/vnd.oci.image.manifest.v1+json"); err != nil {
		t.Fatalf("put manifest %s:%s: %v", repo, tag, err)
	}
	got, err := s.ResolveTag(ctx, repo, tag)
	if err != nil || got != verify.Digest(m) {
		t.Fatalf("read back %s:%s = %s, %v; want %s", repo, tag, got, err, verify.Digest(m))
	}
	return got
}

// TestTokenAuthManyRepositories: a push into 120 repositories of a token-auth registry whose
// realm is on another port of 127.0.0.1, behind nginx-like limits (8 KiB headers, 8 KiB token
// URLs) and a token service that grants at most two scopes a request, asks one token per
// repository (two scopes at most: push on it, pull on a mount's source) and lands every image.
// One token for every repository fails each of these limits (REGISTRIES.md: harbor #14414,
// #15897; openshift/oc #761).
func TestTokenAuthManyRepositories(t *testing.T) {
	q := &testregistry.Quirks{HeaderLimit: 8 << 10}
	reg := testregistry.StartT(t, testregistry.WithTokenAuth("admin", "s3cret", testregistry.TokenOptions{MaxScopes: 2, MaxURL: 8 << 10}),
		testregistry.WithQuirks(q))
	c, err := New(WithCredentials(reg.Host, "admin", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.PushSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	layer := []byte("a layer every repository shares")
	const repos = 120
	for i := range repos {
		from := ""
		if i > 0 {
			from = "ess/app000"
		}
		pushImage(t, s, fmt.Sprintf("ess/app%03d", i), "v1", layer, from)
	}
	requests, maxScopes := reg.TokenRequests()
	t.Logf("%d token requests for %d repositories, at most %d scopes each; %d requests refused by the limits", requests, repos, maxScopes, q.Refused())
	if maxScopes > 2 {
		t.Errorf("a token request asked for %d scopes", maxScopes)
	}
	if requests > 2*repos+2 {
		t.Errorf("%d token requests for %d repositories", requests, repos)
	}
	if q.Refused() != 0 {
		t.Errorf("%d requests passed nginx's limits", q.Refused())
	}
}

// TestTokenAuthOneScopeAtATime: a token service that grants one scope per request: the mount
// source's scope is dropped, and the blob is uploaded instead of mounted; every image lands.
func TestTokenAuthOneScopeAtATime(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithTokenAuth("admin", "s3cret", testregistry.TokenOptions{MaxScopes: 1}))
	c, err := New(WithCredentials(reg.Host, "admin", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.PushSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	layer := []byte("shared layer")
	pushImage(t, s, "a/one", "1", layer, "")
	pushImage(t, s, "a/two", "1", layer, "a/one")
	if _, maxScopes := reg.TokenRequests(); maxScopes != 2 {
		t.Fatalf("at most %d scopes asked: the mount never asked for its source", maxScopes)
	}
}

// TestTokenAuthRefusedPassword: a wrong password is refused when the session starts, with a
// message that says what to give, and names the token service, not a URL with a query.
func TestTokenAuthRefusedPassword(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithTokenAuth("admin", "s3cret", testregistry.TokenOptions{}))
	c, err := New(WithCredentials(reg.Host, "admin", "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PushSession(t.Context(), reg.Host)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), reg.TokenHost()) || strings.Contains(err.Error(), "?") {
		t.Fatalf("err = %v", err)
	}
}

// TestHeadUnknownRepository: a registry answering 401 (Harbor 2.13) or 403 (GitLab) to HEAD
// in a repository that holds nothing yet: the blob is taken as absent and uploaded, and the
// token service is asked once per repository, not once per HEAD.
func TestHeadUnknownRepository(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			reg := testregistry.StartT(t, testregistry.WithTokenAuth("admin", "s3cret", testregistry.TokenOptions{}),
				testregistry.WithQuirks(&testregistry.Quirks{HeadUnknownRepo: status}))
			c, err := New(WithCredentials(reg.Host, "admin", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.PushSession(t.Context(), reg.Host)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				pushImage(t, s, fmt.Sprintf("new/repo%d", i), "1", []byte(fmt.Sprint("layer ", i)), "")
			}
			if requests, _ := reg.TokenRequests(); requests > 7 {
				t.Fatalf("%d token requests for 5 repositories", requests)
			}
		})
	}
}

// TestMountDeclined: a registry that answers a mount with 202 and an upload session (ECR
// without blob mounting): the blob goes into that session, and no more mounts are asked.
func TestMountDeclined(t *testing.T) {
	q := &testregistry.Quirks{NoMount: true}
	reg := testregistry.StartT(t, testregistry.WithQuirks(q))
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.PushSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	layer := bytes.Repeat([]byte("x"), 100<<10)
	pushImage(t, s, "a/one", "1", layer, "")
	before := reg.Requests()
	pushImage(t, s, "a/two", "1", layer, "a/one")
	declined := q.Refused()
	pushImage(t, s, "a/three", "1", layer, "a/one")
	if declined != 1 || q.Refused() != 1 {
		t.Fatalf("mounts declined: %d after the first, %d after the second (want 1, 1: no second ask)", declined, q.Refused())
	}
	t.Logf("second image: %d requests", reg.Requests()-before)
}

// TestRealmPolicy: a token realm is taken anywhere (a site's private network, another port)
// but on a link-local address, which is refused whatever the registry (issue 19: it was
// followed for the registry the operator named), as is a realm name resolving to one.
func TestRealmPolicy(t *testing.T) {
	a := newAuthTransport(nil, nil)
	reg := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	for _, tc := range []struct {
		realm, registry string
		ok              bool
	}{
		{"https://auth.example.com/token", "https://registry.example.com/v2/", true},
		{"https://10.1.2.3:5001/service/token", "https://registry.example.com/v2/", true}, // a site's own network
		{"https://192.168.1.9/service/token", "https://registry.site:5000/v2/", true},
		{"https://registry.example.com:8443/token", "https://registry.example.com/v2/", true},
		{"http://registry.site:5001/token", "http://registry.site:5000/v2/", true},
		{"http://127.0.0.1:5001/token", "https://127.0.0.1:5000/v2/", true}, // loopback
		{"http://10.0.0.5/token", "https://10.0.0.5:5000/v2/", false},       // credentials over plain HTTP to a TLS registry
		{"https://169.254.169.254/latest/meta-data", "https://registry.example.com/v2/", false},
		{"https://169.254.169.254/token", "https://registry.site:5000/v2/", false},  // the registry the operator named too
		{"https://169.254.10.1:5001/token", "https://169.254.10.1:5000/v2/", false}, // its own host too
		{"https://[fe80::1]/token", "https://registry.site:5000/v2/", false},
		{"ftp://auth.example.com/token", "https://registry.example.com/v2/", false},
		{"not a url", "https://registry.example.com/v2/", false},
	} {
		err := a.checkRealm(tc.realm, reg(tc.registry))
		if (err == nil) != tc.ok {
			t.Errorf("realm %s for %s: %v, want ok=%v", tc.realm, tc.registry, err, tc.ok)
		}
		if err != nil && strings.Contains(tc.realm, "169.254") && !errors.Is(err, ErrRealm) {
			t.Errorf("realm %s: %v does not wrap ErrRealm", tc.realm, err)
		}
	}
}

// TestRealmLinkLocalNeverAsked: a registry whose challenge names a link-local realm, by
// address or by a name that resolves to one, gets no token request there; the request
// fails with ErrRealm naming the registry and the realm, and is not retried.
func TestRealmLinkLocalNeverAsked(t *testing.T) {
	for _, realm := range []string{"https://169.254.169.254/token", "https://metadata.internal/token"} {
		var hosts []string
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Host)
			if r.URL.Host != "registry.site:5000" {
				return nil, errors.New("asked " + r.URL.Host)
			}
			h := http.Header{}
			h.Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="registry"`)
			return &http.Response{StatusCode: http.StatusUnauthorized, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})
		a := newAuthTransport(base, authn.DefaultKeychain)
		a.lookup = func(_ context.Context, host string) ([]net.IPAddr, error) {
			return []net.IPAddr{{IP: net.ParseIP("10.0.0.1")}, {IP: net.ParseIP("169.254.169.254")}}, nil
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://registry.site:5000/v2/ess/app/manifests/1", nil)
		resp, err := a.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrRealm) || !strings.Contains(err.Error(), "registry.site:5000") || Transient(err) {
			t.Errorf("realm %s: %v, want ErrRealm naming the registry", realm, err)
		}
		for _, h := range hosts {
			if h != "registry.site:5000" {
				t.Errorf("realm %s: a request went to %s", realm, h)
			}
		}
	}
}

func TestParseChallenge(t *testing.T) {
	ch, ok := parseChallenge([]string{`Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="insufficient_scope"`})
	if !ok || ch.scheme != "bearer" || ch.params["realm"] != "https://auth.example.com/token" ||
		ch.params["service"] != "registry.example.com" || ch.params["scope"] != "repository:a/b:pull,push" || ch.params["error"] != "insufficient_scope" {
		t.Fatalf("parsed %+v", ch)
	}
	if ch, ok := parseChallenge([]string{`Negotiate`, `Basic realm="Registry Realm"`}); !ok || ch.scheme != "basic" || ch.params["realm"] != "Registry Realm" {
		t.Fatalf("parsed %+v, %v", ch, ok)
	}
	if _, ok := parseChallenge([]string{"Negotiate abc"}); ok {
		t.Fatal("parsed a challenge of an unknown scheme")
	}
}

func TestRequestScopes(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		want        string
	}{
		{"GET", "https://r/v2/", ""},
		{"HEAD", "https://r/v2/a/b/blobs/sha256:0", "repository:a/b:pull"},
		{"PUT", "https://r/v2/a/b/manifests/v1", "repository:a/b:pull,push"},
		{"POST", "https://r/v2/a/b/blobs/uploads/?mount=sha256:0&from=c/d", "repository:a/b:pull,push repository:c/d:pull"},
		{"GET", "https://r/v2/a/manifests/blobs/tags/list", "repository:a/manifests/blobs:pull"},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		if got := strings.Join(requestScopes(req), " "); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

// TestTokenOncePerScope: reads of 16 repositories that start together before the registry
// challenged any (a create's resolution workers over a site's uplink: each answer here comes
// 50 ms late, so that all of them are challenged) ask the token service once per scope between
// them, the first fetched token serving the others' retries: one per repository, and none for
// a ping (go-containerregistry's pulls pinged the registry first, and asked one more). Before
// that, each challenged ping fetched its own: 16 in the link profile.
func TestTokenOncePerScope(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithTokenAuth("admin", "s3cret", testregistry.TokenOptions{}))
	pusher, err := New(WithCredentials(reg.Host, "admin", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := pusher.PushSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	const repos = 16
	for i := range repos {
		pushImage(t, s, fmt.Sprintf("ess/app%02d", i), "v1", []byte("a layer"), "")
	}
	c, err := New(WithCredentials(reg.Host, "admin", "s3cret"),
		WithTransport(slowTransport{http.DefaultTransport, 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := reg.TokenRequests()
	var wg sync.WaitGroup
	for i := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetManifest(t.Context(), fmt.Sprintf("%s/ess/app%02d:v1", reg.Host, i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, _ := reg.TokenRequests(); n-before != repos {
		t.Fatalf("%d token requests for %d repositories read at once, want %d (one a repository)", n-before, repos, repos)
	}
}

// slowTransport answers every request delay late, as a distant registry does.
type slowTransport struct {
	base  http.RoundTripper
	delay time.Duration
}

func (s slowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	time.Sleep(s.delay)
	return resp, err
}
