package testregistry_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/element-hq/ess-airgap/internal/testregistry"
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
	if err := remote.Write(ref, img, r.RemoteOptions()...); err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := r.BlobBytesReceived(); got < 2*4096 {
		t.Errorf("BlobBytesReceived = %d after pushing two 4 KiB layers", got)
	}
	got, err := remote.Image(ref, r.RemoteOptions()...)
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
			if err := remote.WriteLayer(repo, layer, r.RemoteOptions()...); err != nil {
				t.Fatal(err)
			}
			if got := r.BlobBytesReceived(); got != size {
				t.Errorf("BlobBytesReceived = %d, want %d", got, size)
			}
			// A second upload of the same blob is skipped: no bytes cross the wire.
			if err := remote.WriteLayer(repo, layer, r.RemoteOptions()...); err != nil {
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
