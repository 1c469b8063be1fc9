package testregistry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	stallLimit       = 60 * time.Second // the longest FaultStall
	resetUnknownSize = 32 << 10         // request body bytes read before FaultReset when no length is declared
)

// errInjected is what a handler sees from a body read or write that a fault cut.
var errInjected = errors.New("testregistry: injected fault")

// inject wraps h to inject f's failures into eligible requests (see Faults).
func (r *Registry) inject(f *Faults, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s := f.active.Load()
		if s == nil || req.URL.Path == "/v2/" || !strings.HasPrefix(req.URL.Path, "/v2/") {
			h.ServeHTTP(w, req)
			return
		}
		repo, res := route(req.URL.Path)
		if status, ok := s.repos[repo]; ok {
			writeError(w, status, errorCode(status), "testregistry: repository "+repo+" fails by request")
			return
		}
		if u := s.uploads; u != nil && res == resUpload && (req.Method == http.MethodPatch || req.Method == http.MethodPut) {
			_, _ = io.Copy(io.Discard, req.Body)
			ctype := "text/plain; charset=utf-8"
			if strings.HasPrefix(u.body, "{") {
				ctype = "application/json"
			}
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Content-Length", strconv.Itoa(len(u.body)))
			w.WriteHeader(u.status)
			_, _ = io.WriteString(w, u.body)
			return
		}
		if req.Method == http.MethodPut && res == resManifest && s.rejected[mediaType(req.Header.Get("Content-Type"))] {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "testregistry: manifest media type rejected by request")
			return
		}
		if req.Method == http.MethodPut && res == resManifest && s.noRefs && isReferrer(req) {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "testregistry: referrers rejected by request")
			return
		}
		blobGET := req.Method == http.MethodGet && res == resBlob
		hasBody := req.ContentLength != 0
		kind := f.draw(s, func(k FaultKind) bool {
			switch k {
			case FaultReset:
				return blobGET || hasBody
			case FaultTruncate:
				return blobGET
			}
			return true
		})
		switch kind {
		case "":
			h.ServeHTTP(w, req)
		case FaultStatus500, FaultStatus502, FaultStatus503:
			status, _ := strconv.Atoi(string(kind))
			writeError(w, status, errorCode(status), "testregistry: injected fault")
		case Fault429:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, errorCode(http.StatusTooManyRequests), "testregistry: injected fault")
		case FaultReset, FaultStall, FaultTruncate:
			switch {
			case blobGET:
				cw := &cutWriter{ResponseWriter: w, r: r, ctx: req.Context(), kind: kind}
				h.ServeHTTP(cw, req)
				if !cw.done {
					_ = cw.act()
				}
			case kind == FaultStall:
				if r.stall(req.Context()) == nil {
					h.ServeHTTP(w, req)
				}
			default: // FaultReset on a request with a body
				left := int64(resetUnknownSize)
				if req.ContentLength > 0 {
					left = req.ContentLength / 2
				}
				cr := &cutReader{ReadCloser: req.Body, left: left,
					cut: func() error { return breakConn(http.NewResponseController(w), true) }}
				req.Body = cr
				h.ServeHTTP(w, req)
				if cr.err == nil { // the handler stopped reading before the cut
					_ = cr.cut()
				}
			}
		}
	})
}

// cutWriter passes the first half of a response body and then injects kind (FaultReset,
// FaultStall or FaultTruncate).
type cutWriter struct {
	http.ResponseWriter
	r     *Registry
	ctx   context.Context // the request's
	kind  FaultKind
	left  int64 // body bytes to send before the fault; set by WriteHeader
	wrote bool  // WriteHeader was called
	done  bool  // the fault acted
	err   error // what every Write returns after the fault
}

func (w *cutWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		n, _ := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
		w.left = n / 2
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.done || int64(len(p)) <= w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, err := w.ResponseWriter.Write(p[:w.left])
	w.left -= int64(n)
	if err == nil {
		err = w.act()
	}
	if err != nil {
		return n, err
	}
	m, err := w.ResponseWriter.Write(p[n:]) // after a stall that ran its course
	return n + m, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// act sends what was written so far and injects the fault. It returns nil after a stall that
// ran its course, else the error for the handler, which every later Write returns too.
func (w *cutWriter) act() error {
	w.done = true
	rc := http.NewResponseController(w.ResponseWriter)
	w.err = rc.Flush()
	if w.err == nil && w.kind == FaultStall {
		w.err = w.r.stall(w.ctx)
	} else if w.err == nil {
		w.err = breakConn(rc, w.kind == FaultReset)
	}
	return w.err
}

// cutReader passes the first left bytes of a request body and then breaks the connection with
// cut: the handler gets cut's error, never the end of the body.
type cutReader struct {
	io.ReadCloser
	left int64
	cut  func() error
	err  error // what every Read returns after the cut
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left <= 0 {
		c.err = c.cut()
		return 0, c.err
	}
	n, err := c.ReadCloser.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	if err == io.EOF {
		c.err = c.cut()
		err = c.err
	}
	return n, err
}

// breakConn hijacks the connection and closes it: with a TCP reset (SO_LINGER 0, below any TLS)
// when reset is set, else in order (after a TLS close_notify). It returns errInjected.
// Where the connection cannot be hijacked (HTTP/2, which the registries do not offer), it
// aborts the handler instead.
func breakConn(rc *http.ResponseController, reset bool) error {
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if reset {
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn()
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	_ = conn.Close()
	return errInjected
}

// stall waits until ctx ends, the registry closes or stallLimit passes. It returns nil in the
// last case, else an error saying why the wait was cut short.
func (r *Registry) stall(ctx context.Context) error {
	t := time.NewTimer(stallLimit)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stop:
		return http.ErrServerClosed
	}
}

// writeError answers status with a Distribution-style JSON error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type entry struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(map[string][]entry{"errors": {{code, message}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorCode is the Distribution error code for an injected status.
func errorCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	case http.StatusNotFound:
		return "NAME_UNKNOWN"
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

// mediaType is a Content-Type without its parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(mt)
}

// isReferrer reports whether a manifest PUT is a referrer: to a tag of the referrers tag scheme,
// or with a subject field in its body (read, and put back for the registry).
func isReferrer(req *http.Request) bool {
	ref := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	if strings.HasPrefix(ref, "sha256-") {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	req.Body = io.NopCloser(bytes.NewReader(body))
	var doc struct {
		Subject json.RawMessage `json:"subject"`
	}
	return err == nil && json.Unmarshal(body, &doc) == nil && len(doc.Subject) > 0 && string(doc.Subject) != "null"
}
