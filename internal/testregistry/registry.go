package testregistry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Registry is a running in-process registry. Its fields are set by Start or StartGGCR and must
// not be changed. Its methods are safe for concurrent use.
type Registry struct {
	Host     string         // "127.0.0.1:PORT"
	CAFile   string         // path of the CA certificate (PEM); "" without TLS or without a directory
	CAPool   *x509.CertPool // pool holding the CA; nil without TLS
	Username string         // "" without auth
	Password string

	tokens        *tokenService // with WithTokenAuth
	requests      atomic.Int64
	blobBytes     atomic.Int64 // received
	blobBytesSent atomic.Int64

	srv       *http.Server
	inFlight  sync.WaitGroup // handlers running
	served    chan struct{}  // closed when Serve returned
	stop      chan struct{}  // closed by Close: ends stalls
	transport *http.Transport
	shutdown  func() error // stops the registry application after the server; may be nil
	closeOnce sync.Once
	closeErr  error
}

// BlobBytesReceived is the number of request body bytes the registry read from blob upload
// requests (POST, PATCH and PUT on /v2/<name>/blobs/uploads/...). A mounted or skipped blob adds
// nothing.
func (r *Registry) BlobBytesReceived() int64 { return r.blobBytes.Load() }

// BlobBytesSent is the number of response body bytes the registry wrote for GET requests on
// blobs (/v2/<name>/blobs/<digest>, not uploads); bytes are counted before they are written, so
// a client that has read them sees them counted. HEAD requests add nothing; a blob GET cut by a
// fault adds what was sent before the cut.
func (r *Registry) BlobBytesSent() int64 { return r.blobBytesSent.Load() }

// TokenRequests is the number of requests the token service of WithTokenAuth served, and the
// most scopes one of them asked for; 0, 0 without token auth.
func (r *Registry) TokenRequests() (requests int64, maxScopes int) {
	if r.tokens == nil {
		return 0, 0
	}
	r.tokens.mu.Lock()
	defer r.tokens.mu.Unlock()
	return r.tokens.requests.Load(), r.tokens.maxScope
}

// TokenHost is the host:port of the token service of WithTokenAuth (the registry's own with
// TokenOptions.OnRegistryHost), "" without it.
func (r *Registry) TokenHost() string {
	if r.tokens == nil {
		return ""
	}
	return r.tokens.host
}

// Requests is the number of HTTP requests served so far, of any kind.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// Transport returns a transport that trusts the registry's CA (a clone of Go's default
// transport keeping up to 50 idle connections to the registry). It adds no credentials: use Authenticator for that.
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

// Close stops the server, drops open connections and waits for it, and its handlers, to stop. Files written to
// the directory given to Start are left in place. Calling Close again returns the first result.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		err := r.srv.Close()
		<-r.served
		// Close drops the connections but does not wait for their handlers: wait (a while)
		// for them to stop writing into the directory.
		done := make(chan struct{})
		go func() { r.inFlight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		r.transport.CloseIdleConnections()
		if r.shutdown != nil {
			err = errors.Join(err, r.shutdown())
		}
		r.closeErr = err
	})
	return r.closeErr
}

// serve listens on 127.0.0.1 with a random port and serves h, counting requests and blob bytes
// and injecting c's faults. With cert set it serves TLS (HTTP/1.1) only.
func serve(h http.Handler, c config, cert *tls.Certificate, pool *x509.CertPool) (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Registry{
		Host:      ln.Addr().String(),
		CAPool:    pool,
		served:    make(chan struct{}),
		stop:      make(chan struct{}),
		transport: http.DefaultTransport.(*http.Transport).Clone(),
	}
	r.transport.MaxIdleConnsPerHost = 50 // as go-containerregistry's: a pool of uploads reuses them
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
		r.transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if c.faults != nil {
		h = r.inject(c.faults, h)
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

// count wraps h to count requests, the body bytes of blob uploads and those of blob GETs.
func (r *Registry) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.inFlight.Add(1)
		defer r.inFlight.Done()
		r.requests.Add(1)
		switch _, res := route(req.URL.Path); {
		case res == resUpload && req.Body != nil &&
			(req.Method == http.MethodPost || req.Method == http.MethodPatch || req.Method == http.MethodPut):
			req.Body = &countingBody{ReadCloser: req.Body, n: &r.blobBytes}
		case res == resBlob && req.Method == http.MethodGet:
			w = &countingWriter{ResponseWriter: w, n: &r.blobBytesSent}
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

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

// Write counts p before writing it, so that a client that has read it sees it counted, and
// takes back what was not written.
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n - len(p)))
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
