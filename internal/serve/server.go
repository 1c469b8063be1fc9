package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve lets requests in flight finish once its context ends.
const ShutdownGrace = 30 * time.Second

// DefaultTimeout is ServerOptions.Timeout's default.
const DefaultTimeout = 30 * time.Second

// ServerOptions says how Serve runs.
type ServerOptions struct {
	// Cert, when not nil, makes Serve speak TLS (HTTP/2 and HTTP/1.1).
	Cert *tls.Certificate
	// Log gets the server's errors. Default: the standard logger.
	Log *log.Logger
	// Timeout bounds each wait on a client: to send its request's headers (and then its
	// whole request), to take any part of the answer (the write deadline moves on as bytes
	// flow, writeChunk at a time: a client reading at 1 KiB/s gets a blob of any size, one
	// that reads nothing is dropped after Timeout) and, idle, between requests (4 x Timeout).
	// Default DefaultTimeout.
	Timeout time.Duration
}

// Serve answers h's requests on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets the requests in flight finish for up to ShutdownGrace, then closes what is
// left. It returns nil after a shutdown, or the error that stopped it. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServerOptions) error {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	srv := &http.Server{Handler: writeDeadlines(h, o.Timeout), ReadHeaderTimeout: o.Timeout, ReadTimeout: 2 * o.Timeout,
		IdleTimeout: 4 * o.Timeout, ErrorLog: o.Log}
	if o.Cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*o.Cert}, MinVersion: tls.VersionTLS12}
	}
	done := make(chan error, 1)
	go func() {
		if o.Cert != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// writeChunk is the most written at once under one write deadline.
const writeChunk = 16 << 10

// writeDeadlines gives every write of h's answers a deadline of timeout from when it starts,
// writeChunk bytes at a time: a client that stops reading is dropped after timeout (and the
// request's files are closed), one that reads slowly is not.
func writeDeadlines(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout}, req)
	})
}

type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), writeChunk)]
		d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) // not supported: no deadline, as before
		n, err := d.ResponseWriter.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

func (d *deadlineWriter) WriteHeader(code int) {
	d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	d.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
