package testregistry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a running in-process registry. Its fields are set by Start or StartGGCR and must
// not be changed. Its methods are safe for concurrent use.
type Registry struct {
	Host     string         // "127.0.0.1:PORT"
	CAFile   string         // path of the CA certificate (PEM); "" without TLS or without a directory
	CAPool   *x509.CertPool // pool holding the CA; nil without TLS
	Username string         // "" without auth
	Password string

	requests  atomic.Int64
	blobBytes atomic.Int64

	srv       *http.Server
	served    chan struct{} // closed when Serve returned
	transport *http.Transport
	shutdown  func() error // stops the registry application after the server; may be nil
	closeOnce sync.Once
	closeErr  error
}

// BlobBytesReceived is the number of request body bytes the registry read from blob upload
// requests (POST, PATCH and PUT on paths containing "/blobs/uploads/"). A mounted or skipped
// blob adds nothing.
func (r *Registry) BlobBytesReceived() int64 { return r.blobBytes.Load() }

// Requests is the number of HTTP requests served so far, of any kind.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// Transport returns a transport that trusts the registry's CA (a clone of
// remote.DefaultTransport). It adds no credentials: use Authenticator for that.
// The same transport is returned on every call; Close closes its idle connections.
func (r *Registry) Transport() http.RoundTripper { return r.transport }

// Authenticator returns basic auth with the registry's credentials, or authn.Anonymous
// without auth.
func (r *Registry) Authenticator() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// RemoteOptions returns remote.WithTransport(Transport()) and remote.WithAuth(Authenticator()).
func (r *Registry) RemoteOptions() []remote.Option {
	return []remote.Option{remote.WithTransport(r.Transport()), remote.WithAuth(r.Authenticator())}
}

// Close stops the server, drops open connections and waits for it to stop. Files written to
// the directory given to Start are left in place. Calling Close again returns the first result.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		err := r.srv.Close()
		<-r.served
		r.transport.CloseIdleConnections()
		if r.shutdown != nil {
			err = errors.Join(err, r.shutdown())
		}
		r.closeErr = err
	})
	return r.closeErr
}

// serve listens on 127.0.0.1 with a random port and serves h, counting requests and upload
// bytes. With cert set it serves TLS only.
func serve(h http.Handler, cert *tls.Certificate, pool *x509.CertPool) (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Registry{
		Host:      ln.Addr().String(),
		CAPool:    pool,
		served:    make(chan struct{}),
		transport: remote.DefaultTransport.(*http.Transport).Clone(),
	}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
		r.transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	r.srv = &http.Server{
		Handler:           r.count(h),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // TLS handshake errors of distrustful clients
	}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return r, nil
}

// count wraps h to count requests and the body bytes of blob uploads.
func (r *Registry) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		switch req.Method {
		case http.MethodPost, http.MethodPatch, http.MethodPut:
			if req.Body != nil && strings.Contains(req.URL.Path, "/blobs/uploads/") {
				req.Body = &countingBody{ReadCloser: req.Body, n: &r.blobBytes}
			}
		}
		h.ServeHTTP(w, req)
	})
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
