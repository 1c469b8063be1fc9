package oci

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	if d, ok := retryAfter("3"); !ok || d != 3*time.Second {
		t.Errorf("3 -> %v %v", d, ok)
	}
	if d, ok := retryAfter(time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)); !ok || d <= 0 || d > 2*time.Second {
		t.Errorf("date -> %v %v", d, ok)
	}
	for _, v := range []string{"", "soon", "-1"} {
		if _, ok := retryAfter(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestRetrying: transient answers are retried (honouring Retry-After), others are not, a body
// that can be replayed is sent again whole, and a stalled answer is cut after the idle time.
func TestRetrying(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		switch {
		case r.URL.Path == "/flaky" && n == 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/flaky" && n == 2:
			w.WriteHeader(http.StatusBadGateway)
		case r.URL.Path == "/denied":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/stall":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	rt := newRetrying(http.DefaultTransport, 5, 10*time.Second, 300*time.Millisecond)
	rt.base = time.Millisecond

	start := time.Now()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, srv.URL+"/flaky", strings.NewReader("payload"))
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusCreated || calls.Load() != 3 {
		t.Fatalf("flaky: %v, %v after %d calls", resp, err, calls.Load())
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After: 1 was not honoured")
	}
	for i, b := range bodies {
		if b != "payload" {
			t.Errorf("attempt %d sent %q", i+1, b)
		}
	}

	calls.Store(0)
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/denied", nil)
	if resp, err := rt.RoundTrip(req); err != nil || resp.StatusCode != http.StatusUnauthorized || calls.Load() != 1 {
		t.Fatalf("401 was retried: %d calls", calls.Load())
	}

	rt.attempts = 1
	start = time.Now()
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/stall", nil)
	_, err = rt.RoundTrip(req)
	var stalled errStalled
	if !errors.As(err, &stalled) || time.Since(start) > 3*time.Second {
		t.Fatalf("stall: %v after %s", err, time.Since(start))
	}
}
