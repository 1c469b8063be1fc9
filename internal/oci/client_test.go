package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3": true, "localhost:5000": true, "LOCALHOST": true, "[::1]:5000": true,
		"10.0.0.1:5000": false, "192.168.1.1": false, "registry.local:5000": false, "example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestPlainHTTPGuard: plain HTTP to a registry off this machine is refused before any
// connection is made, unless --plain-http.
func TestPlainHTTPGuard(t *testing.T) {
	called := 0
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { called++; return nil, errors.New("dialled") })
	g := &guard{rt: rt}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://10.1.2.3:5000/v2/", nil)
	if _, err := g.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) || called != 0 {
		t.Fatalf("err = %v, dialled %d times; want ErrPlainHTTP and no dial", err, called)
	}
	for _, u := range []string{"http://127.0.0.1:5000/v2/", "https://10.1.2.3/v2/"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		if _, err := g.RoundTrip(req); errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s refused", u)
		}
	}
	g.plainHTTP = true
	if _, err := g.RoundTrip(req); errors.Is(err, ErrPlainHTTP) {
		t.Error("refused with --plain-http")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// mapLocal is Local content from maps: manifests, and blobs (no media type).
type mapLocal struct {
	manifests map[string][]byte
	blobs     map[string][]byte
}

func (l mapLocal) ByDigest(d string) (io.ReadCloser, string, bool) {
	mt := "application/vnd.oci.image.manifest.v1+json"
	b, ok := l.manifests[d]
	if !ok {
		b, ok, mt = l.blobs[d], l.blobs[d] != nil, ""
	}
	if !ok {
		return nil, "", false
	}
	return io.NopCloser(bytes.NewReader(b)), mt, true
}

// TestLocal: manifests by digest and blobs come from the local content without a request;
// a manifest by tag, and what the local content lacks, from the registry; local bytes that do
// not match their digest are not used.
func TestLocal(t *testing.T) {
	reg := testregistry.StartT(t)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/a/b:v1"
	if err := remote.Write(must(name.ParseReference(ref)), img, remoteOptions(reg)...); err != nil {
		t.Fatal(err)
	}
	raw := must(img.RawManifest())
	md := verify.Digest(raw)
	layers := must(img.Layers())
	ld := must(layers[0].Digest()).String()
	lb := must(io.ReadAll(must(layers[0].Compressed())))
	local := mapLocal{manifests: map[string][]byte{md: raw}, blobs: map[string][]byte{ld: lb}}
	c, err := New(WithLocal(local))
	if err != nil {
		t.Fatal(err)
	}
	before := reg.Requests()
	m, err := c.GetManifest(t.Context(), reg.Host+"/a/b@"+md)
	if err != nil || !bytes.Equal(m.Raw, raw) || m.Digest != md {
		t.Fatalf("manifest by digest: %v", err)
	}
	rc, err := c.OpenBlob(t.Context(), reg.Host+"/a/b", ld, int64(len(lb)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, lb) {
		t.Fatalf("blob: %v", err)
	}
	rc.Close()
	if n := reg.Requests() - before; n != 0 {
		t.Errorf("%d requests for what the local content has", n)
	}
	if m, err := c.GetManifest(t.Context(), ref); err != nil || m.Digest != md {
		t.Fatalf("manifest by tag: %v", err)
	}
	if reg.Requests() == before {
		t.Error("a manifest by tag did not ask the registry")
	}
	local.manifests[md] = append([]byte(" "), raw...) // damaged: the registry's is used
	if m, err := c.GetManifest(t.Context(), reg.Host+"/a/b@"+md); err != nil || !bytes.Equal(m.Raw, raw) {
		t.Fatalf("with damaged local bytes: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// remoteOptions are go-containerregistry's remote options that reach r, for the tests that
// seed a registry with ggcr's client (oci is the one package that may import remote).
func remoteOptions(r *testregistry.Registry) []remote.Option {
	return []remote.Option{remote.WithTransport(r.Transport()), remote.WithAuth(r.Authenticator())}
}
