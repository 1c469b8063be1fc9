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

// Serve answers h's requests on ln (TLS with cert, when it is not nil: HTTP/2 and HTTP/1.1)
// until ctx ends, then shuts down gracefully: it stops accepting, lets the requests in flight
// finish for up to ShutdownGrace, then closes what is left. It returns nil after a shutdown, or
// the error that stopped it. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cert *tls.Certificate, errLog *log.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	done := make(chan error, 1)
	go func() {
		if cert != nil {
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
