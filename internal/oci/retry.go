package oci

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

// retrying retries requests that failed for a reason that may pass: a dropped connection, 408,
// 429 or 5xx. It waits with exponential backoff and full jitter, or as long as Retry-After says,
// within a bound on the total time. A request whose body cannot be replayed is sent once (the
// caller retries the whole upload). Every request also gets an idle timeout: if no byte moves
// in either direction for idle, it is cancelled, so a stalled connection cannot hang a run.
// The answers to small reads (manifests, referrers lists, tags lists) are read whole here, so
// that a stall in their body is retried like one before their headers. A request that stalls
// MaxStalls times, or stalls on its last try, is given up (an error Stalled reports as final):
// an upstream that stalls again and again costs at most MaxStalls x the idle timeout, not the
// retries of every level above.
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
	stalls := 0 // of this request, all attempts
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
		resp, err := r.once(try, stalls)
		if b := budgetOf(req.Context()); b != nil && resp != nil && !TransientStatus(resp.StatusCode) {
			b.Progress() // an answer: the transfer moves
		}
		var se errStalled
		if errors.As(err, &se) {
			if stalls = se.stalls; se.final {
				return nil, err
			}
			if replayable {
				// Retried here while attempts and time last: if this one is the last, the
				// request is given up for its stalls, not to be retried above.
				se.final = true
				err = se
			}
		}
		if !replayable || attempt >= r.attempts || !transient(req.Context(), resp, err) {
			return resp, err
		}
		wait := r.backoff(attempt, resp)
		if time.Now().Add(wait).After(deadline) {
			return resp, err
		}
		var body []byte
		if resp != nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		// A transfer's budget (WithBudget) is shared with its caller's retries of the whole
		// transfer: when it is spent, or the registry gave the same answer SameAnswer times in
		// a row, this answer is the last.
		if b := budgetOf(req.Context()); b != nil && !b.Retry(answerOf(resp, body)) {
			if resp != nil {
				resp.Body = io.NopCloser(bytes.NewReader(body))
			}
			return resp, err
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

// once sends one attempt under the idle watchdog; the request stalled stalls times before.
// The answer to a small read is read whole (up to its cap in limits.go; bodyLimits refuses
// what passes it).
func (r *retrying) once(req *http.Request, stalls int) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &watchdog{cancel: cancel, idle: r.idle}
	w.arm()
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{ReadCloser: req.Body, w: w, size: req.ContentLength, stalls: stalls}
	}
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		w.stop()
		if w.fired() {
			err = stalled(err, stalls)
		}
		return nil, err
	}
	w.kick()
	body := &watchedBody{ReadCloser: resp.Body, w: w, done: true, stalls: stalls}
	resp.Body = body
	// One that says it is over the cap is left to bodyLimits, which refuses it unread.
	if limit := smallRead(req, resp); limit > 0 && resp.ContentLength <= limit {
		head, err := io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			body.Close()
			return nil, err
		}
		resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(head), body), body: body}
	}
	return resp, nil
}

// smallRead returns the cap of an answer read whole by the transport (a manifest, a referrers
// list, a page of tags), 0 for any other.
func smallRead(req *http.Request, resp *http.Response) int64 {
	if req.Method != http.MethodGet || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0
	}
	switch pathKind(req.URL.Path) {
	case "/manifests/", "/referrers/":
		return manifest.MaxBytes
	case "/tags/":
		return maxListBytes
	}
	return 0
}

// prefixedBody is an answer read in part already, then the rest of its body.
type prefixedBody struct {
	io.Reader
	body io.Closer
}

func (p *prefixedBody) Close() error { return p.body.Close() }

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

// MaxStalls is how many times a request (or, in the callers that retry a whole transfer, a
// transfer) may stall before it is given up: stalls now and then pass, an upstream that
// stalls again and again is the cause to report.
const MaxStalls = 4

// errStalled says a request was cancelled because nothing moved for the idle timeout; stalls
// counts the stalls of the request so far, final when they reached MaxStalls.
type errStalled struct {
	err    error
	stalls int
	final  bool
}

// stalled is the error of a request's next stall, after prior ones.
func stalled(err error, prior int) errStalled {
	return errStalled{err: err, stalls: prior + 1, final: prior+1 >= MaxStalls}
}

func (e errStalled) Error() string {
	if e.stalls > 1 {
		return fmt.Sprintf("connection stalled %d times (no data for the idle timeout each time): %v", e.stalls, e.err)
	}
	return "connection stalled (no data for the idle timeout): " + e.err.Error()
}
func (e errStalled) Unwrap() error { return e.err }

// Stalled reports whether err is a transfer that stalled (nothing moved for the idle timeout,
// WithTimeout), and whether the request stalled MaxStalls times already: then it is not worth
// another try.
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
	w      *watchdog
	done   bool  // a response body
	size   int64 // a request body's length, if known
	stalls int   // of the request before this attempt
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
		err = stalled(err, b.stalls)
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
