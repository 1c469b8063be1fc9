package oci

import (
	"context"
	"errors"
	"fmt"
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

// TestStallsCounted: a manifest whose body stalls midway is read again by the transport (its
// answer is read whole there), and passes when a try goes through; one that stalls every
// time is given up at its MaxStalls-th stall, as final (issue 19: a stalling upstream held one
// image more than 5 minutes, every level above retrying it).
func TestStallsCounted(t *testing.T) {
	var calls atomic.Int32
	var goodAfter atomic.Int32
	body := strings.Repeat("m", 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if g := goodAfter.Load(); g > 0 && n > g {
			io.WriteString(w, body)
			return
		}
		io.WriteString(w, body[:len(body)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	rt := newRetrying(http.DefaultTransport, 10, 20*time.Second, 200*time.Millisecond)
	rt.base = time.Millisecond
	get := func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/v2/x/manifests/1", nil)
		return rt.RoundTrip(req)
	}

	goodAfter.Store(2)
	resp, err := get()
	if err != nil {
		t.Fatalf("two stalls then an answer: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(got) != body || calls.Load() != 3 {
		t.Fatalf("read %d bytes (%v) in %d calls", len(got), err, calls.Load())
	}

	calls.Store(0)
	goodAfter.Store(0)
	_, err = get()
	if s, final := Stalled(err); !s || !final || calls.Load() != MaxStalls || !strings.Contains(err.Error(), fmt.Sprintf("stalled %d times", MaxStalls)) {
		t.Fatalf("stalling every time: %v after %d calls, want a final stall after %d", err, calls.Load(), MaxStalls)
	}
}
