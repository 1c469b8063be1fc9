package testregistry_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestDistributionAuthTLS(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithAuth("alice", "s3cret"), testregistry.WithTLS())
	if r.CAFile == "" || r.CAPool == nil {
		t.Fatalf("CAFile %q, CAPool %v: want both set", r.CAFile, r.CAPool)
	}
	if fi, err := os.Stat(r.CAFile); err != nil || fi.Size() == 0 {
		t.Fatalf("ca.pem: %v", err)
	}
	ref, err := name.ParseReference(r.Host + "/test/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remoteOptions(r)...); err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := r.BlobBytesReceived(); got < 2*4096 {
		t.Errorf("BlobBytesReceived = %d after pushing two 4 KiB layers", got)
	}
	got, err := remote.Image(ref, remoteOptions(r)...)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	want, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != want {
		t.Fatalf("pulled digest %v (%v), want %v", d, err, want)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}

	t.Run("wrong password", func(t *testing.T) {
		_, err := remote.Image(ref, remote.WithTransport(r.Transport()),
			remote.WithAuth(&authn.Basic{Username: "alice", Password: "wrong"}))
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 transport.Error", err)
		}
	})
	t.Run("untrusted CA", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
		resp, err := c.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			t.Fatal("GET with the system roots succeeded")
		}
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("err = %v, want a certificate verification error", err)
		}
	})
}

func TestBlobBytesReceived(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) *testregistry.Registry
	}{
		{"distribution", func(t *testing.T) *testregistry.Registry { return testregistry.StartT(t) }},
		{"ggcr", func(t *testing.T) *testregistry.Registry {
			r, err := testregistry.StartGGCR()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.start(t)
			repo, err := name.NewRepository(r.Host + "/test/blob")
			if err != nil {
				t.Fatal(err)
			}
			layer, err := random.Layer(10000, "")
			if err != nil {
				t.Fatal(err)
			}
			size, _ := layer.Size()
			if err := remote.WriteLayer(repo, layer, remoteOptions(r)...); err != nil {
				t.Fatal(err)
			}
			if got := r.BlobBytesReceived(); got != size {
				t.Errorf("BlobBytesReceived = %d, want %d", got, size)
			}
			// A second upload of the same blob is skipped: no bytes cross the wire.
			if err := remote.WriteLayer(repo, layer, remoteOptions(r)...); err != nil {
				t.Fatal(err)
			}
			if got := r.BlobBytesReceived(); got != size {
				t.Errorf("after re-upload BlobBytesReceived = %d, want %d", got, size)
			}
			if r.Requests() == 0 {
				t.Error("Requests() = 0")
			}
		})
	}
}

func TestStartGGCRRejectsAuth(t *testing.T) {
	if _, err := testregistry.StartGGCR(testregistry.WithAuth("u", "p")); !errors.Is(err, testregistry.ErrAuthUnsupported) {
		t.Fatalf("err = %v, want ErrAuthUnsupported", err)
	}
}

func TestCloseTwice(t *testing.T) {
	r, err := testregistry.Start(context.Background(), t.TempDir(), testregistry.WithTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + r.Host + "/v2/"); err == nil {
		t.Fatal("server still answers after Close")
	}
}

// go-containerregistry takes a token realm on a private address only on the registry's own
// host:port: with OnRegistryHost it pulls anonymously (a token per repository, AnonymousPull),
// through a proxy that changes the port too; with the service on a port of its own it cannot.
func TestTokenOnRegistryHost(t *testing.T) {
	for _, onHost := range []bool{true, false} {
		r := testregistry.StartT(t, testregistry.WithTokenAuth("alice", "s3cret",
			testregistry.TokenOptions{AnonymousPull: true, OnRegistryHost: onHost}))
		if (r.TokenHost() == r.Host) != onHost {
			t.Fatalf("OnRegistryHost %v: TokenHost %s, registry %s", onHost, r.TokenHost(), r.Host)
		}
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(r.Host + "/test/app:v1")
		creds := remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
		err = remote.Write(ref, img, creds)
		if onHost != (err == nil) {
			t.Fatalf("OnRegistryHost %v: push: %v", onHost, err)
		}
		if !onHost {
			continue
		}
		// Through a plain TCP proxy on another port: the realm names the proxy.
		proxy := tcpProxy(t, r.Host)
		pref, _ := name.ParseReference(proxy + "/test/app:v1")
		got, err := remote.Image(pref)
		if err != nil {
			t.Fatalf("anonymous pull through %s: %v", proxy, err)
		}
		if d, _ := got.Digest(); d != must(img.Digest()) {
			t.Fatalf("pulled %v", d)
		}
		resp, err := http.Get("http://" + proxy + "/v2/test/app/manifests/v1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := `realm="http://` + proxy + `/token"`; resp.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
			t.Fatalf("challenge %d %q, want 401 with %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// tcpProxy forwards every connection on a new port of 127.0.0.1 to target.
func tcpProxy(t *testing.T, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return ln.Addr().String()
}
