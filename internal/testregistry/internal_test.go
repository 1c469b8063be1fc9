package testregistry

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRoute: the repository and resource a registry API path names, taking the last marker
// as Distribution's router does (a repository may have "blobs" or "manifests" in its name).
func TestRoute(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	cases := []struct {
		path, repo string
		res        resource
	}{
		{"/v2/", "", resOther},
		{"/v2/_catalog", "", resOther},
		{"/v2/ess/app/manifests/v1", "ess/app", resManifest},
		{"/v2/ess/app/manifests/" + d, "ess/app", resManifest},
		{"/v2/ess/app/blobs/" + d, "ess/app", resBlob},
		{"/v2/ess/app/blobs/uploads/", "ess/app", resUpload},
		{"/v2/ess/app/blobs/uploads", "ess/app", resUpload},
		{"/v2/ess/app/blobs/uploads/abc-123", "ess/app", resUpload},
		{"/v2/ess/app/tags/list", "ess/app", resOther},
		{"/v2/ess/app/referrers/" + d, "ess/app", resOther},
		{"/v2/a/blobs/b/manifests/v1", "a/blobs/b", resManifest},
		{"/v2/a/manifests/b/blobs/" + d, "a/manifests/b", resBlob},
		{"/v2/blobs/uploadsx", "", resOther},
		{"/v2/x/blobs/uploadsx", "x", resBlob},
		{"/v2//manifests/v1", "", resOther},
		{"/v1/ess/app/manifests/v1", "", resOther},
		{"/token", "", resOther},
	}
	for _, c := range cases {
		repo, res := route(c.path)
		if repo != c.repo || res != c.res {
			t.Errorf("route(%q) = %q, %d; want %q, %d", c.path, repo, res, c.repo, c.res)
		}
	}
}

// TestNewConfig: credentials must be both set, the username without ':' (htpasswd's
// separator); no credentials is fine.
func TestNewConfig(t *testing.T) {
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"", "", true}, {"alice", "pw", true}, {"a:b", "pw", false}, {"", "pw", false}, {"alice", "", false},
	} {
		_, err := newConfig([]Option{WithAuth(c.user, c.pw)})
		if (err == nil) != c.ok {
			t.Errorf("WithAuth(%q, %q): %v", c.user, c.pw, err)
		}
	}
	if _, err := Start(t.Context(), t.TempDir(), WithReferrersAPI()); err == nil || !strings.Contains(err.Error(), "StartGGCR") {
		t.Errorf("Start with the referrers API: %v", err)
	}
}

// TestWriteCertificates: the CA, and a server certificate it signs for 127.0.0.1, ::1 and
// localhost, its key private to the user; a TLS handshake with them succeeds.
func TestWriteCertificates(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile, err := WriteCertificates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(caFile) != dir || filepath.Base(caFile) != CAFileName {
		t.Errorf("CA at %s", caFile)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	caPEM, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	certPEM, _ := os.ReadFile(certFile)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "example.org"}); err == nil {
		t.Error("the certificate is valid for example.org")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: time.Now().Add(certLifetime + time.Hour)}); err == nil {
		t.Error("the certificate is valid past its lifetime")
	}

	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := tls.Dial("tcp", "localhost:"+port, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.Close()
}
