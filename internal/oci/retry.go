package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// retrying retries requests that failed for a reason that may pass: a dropped connection, 408,
// 429 or 5xx. It waits with exponential backoff and full jitter, or as long as Retry-After says,
// within a bound on the total time. A request whose body cannot be replayed is sent once (the
// caller retries the whole upload). Every request also gets an idle timeout: if no byte moves
// in either direction for idle, it is cancelled, so a stalled connection cannot hang a run. A
// stalled request is tried once more; a second stall is the answer (an error that Stalled
// reports as final): a registry that stalls twice will stall again.
type retrying struct {
	rt       http.RoundTripper
	attempts int
	total    time.Duration
	idle     time.Duration
	base     time.Duration
}

func newRetrying(rt http.RoundTripper, attempts int, total, idle time.Duration) *retrying {
	return &retrying{rt: rt, attempts: attempts, total: total, idle: idle, base: 200 * time.Millisecond}
}

func (r *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	deadline := time.Now().Add(r.total)
	stalls := 0
	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try = req.Clone(req.Context())
			try.Body = body
		}
		resp, err := r.once(try)
		var se errStalled
		if errors.As(err, &se) {
			if stalls++; stalls == 2 {
				return nil, errStalled{err: se.err, final: true}
			}
		}
		if !replayable || attempt >= r.attempts || !transient(req.Context(), resp, err) {
			return resp, err
		}
		wait := r.backoff(attempt, resp)
		if time.Now().Add(wait).After(deadline) {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// once sends one attempt under the idle watchdog.
func (r *retrying) once(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &watchdog{cancel: cancel, idle: r.idle}
	w.arm()
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{ReadCloser: req.Body, w: w, size: req.ContentLength}
	}
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		w.stop()
		if w.fired() {
			err = errStalled{err: err}
		}
		return nil, err
	}
	w.kick()
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, done: true}
	return resp, nil
}

// transient reports whether a failed attempt is worth another.
func transient(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		var cerr *tls.CertificateVerificationError
		var uerr x509.UnknownAuthorityError
		var rerr tls.RecordHeaderError
		return !errors.Is(err, ErrPlainHTTP) && !errors.As(err, &cerr) && !errors.As(err, &uerr) && !errors.As(err, &rerr) &&
			!strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") // a TLS attempt at plain HTTP
	}
	return TransientStatus(resp.StatusCode)
}

// TransientStatus reports whether an HTTP status may pass on another try: 408, 429, 500, 502,
// 503, 504.
func TransientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is how long to wait before attempt+1: Retry-After when the server gives it,
// else base * 2^(attempt-1) with full jitter, at most 10 s.
func (r *retrying) backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return d
		}
	}
	d := min(r.base<<(attempt-1), 10*time.Second)
	return d/2 + rand.N(d/2+1)
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// errStalled says a request was cancelled because nothing moved for the idle timeout; final
// when it had stalled once already.
type errStalled struct {
	err   error
	final bool
}

func (e errStalled) Error() string {
	if e.final {
		return "connection stalled twice (no data for the --timeout each time): " + e.err.Error()
	}
	return "connection stalled (no data for the --timeout): " + e.err.Error()
}
func (e errStalled) Unwrap() error { return e.err }

// Stalled reports whether err is a transfer that stalled (nothing moved for the --timeout),
// and whether that was final: the request had been tried again after a first stall and
// stalled again. A transfer that stalled once may be tried once more, not more.
func Stalled(err error) (stalled, final bool) {
	var se errStalled
	if !errors.As(err, &se) {
		return false, false
	}
	return true, se.final
}

// watchdog cancels a request when idle passes without a kick.
type watchdog struct {
	mu     sync.Mutex
	t      *time.Timer
	cancel context.CancelFunc
	idle   time.Duration
	fire   bool
}

func (w *watchdog) arm() {
	w.t = time.AfterFunc(w.idle, func() {
		w.mu.Lock()
		w.fire = true
		w.mu.Unlock()
		w.cancel()
	})
}

func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Reset(w.idle)
}

// relax gives the server longer once a request's body of size bytes is all sent: committing a
// large blob (hashing it, copying it to object storage) can take a while with nothing on the
// wire. It gets the idle timeout plus one second per commitRate bytes.
func (w *watchdog) relax(size int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idle += time.Duration(size / commitRate * int64(time.Second))
	w.t.Reset(w.idle)
}

// commitRate is the slowest rate at which a registry is expected to commit an upload.
const commitRate = 20 << 20

func (w *watchdog) stop() { w.t.Stop() }

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fire
}

// watchedBody kicks the watchdog on every read; a response body (done) releases it on Close.
type watchedBody struct {
	io.ReadCloser
	w    *watchdog
	done bool  // a response body
	size int64 // a request body's length, if known
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	if err == io.EOF && !b.done && b.size > 0 { // the request body is all sent
		b.w.relax(b.size)
		b.size = 0
	}
	if err != nil && err != io.EOF && b.w.fired() {
		err = errStalled{err: err}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	if b.done {
		b.w.stop()
		b.w.cancel()
	}
	return b.ReadCloser.Close()
}
