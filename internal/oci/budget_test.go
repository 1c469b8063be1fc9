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

// TestBudget: one count and one deadline for every retry of a transfer; the same error answer
// SameAnswer times in a row ends it; broken connections are retried as long as the count lasts.
func TestBudget(t *testing.T) {
	b := NewBudget(100, time.Minute)
	for i := 1; i < SameAnswer; i++ {
		if !b.Retry("HTTP 500 (disk full)") {
			t.Fatalf("answer %d refused", i)
		}
	}
	if b.Retry("HTTP 500 (disk full)") {
		t.Fatalf("the same answer %d times in a row was retried", SameAnswer)
	}
	if a, n := b.Repeated(); a != "HTTP 500 (disk full)" || n != SameAnswer {
		t.Errorf("Repeated() = %q, %d", a, n)
	}
	b = NewBudget(100, time.Minute)
	for i := range 3 * SameAnswer { // answers that differ, and broken connections, go on
		answer := []string{"HTTP 503 (a)", "", "HTTP 500 (b)"}[i%3]
		if !b.Retry(answer) {
			t.Fatalf("retry %d (%q) refused", i, answer)
		}
	}
	if a, _ := b.Repeated(); a != "" {
		t.Errorf("Repeated() = %q", a)
	}
	b = NewBudget(2, time.Minute)
	if !b.Retry("") || !b.Retry("") || b.Retry("") {
		t.Error("a budget of 2 retries allowed another")
	}
	b = NewBudget(100, 10*time.Millisecond)
	b.Retry("")
	time.Sleep(20 * time.Millisecond)
	if b.Retry("") {
		t.Error("a retry after the deadline")
	}
}

// TestTransportBudget: the transport takes its retries from the budget of the request's
// context: a registry answering every request alike is asked SameAnswer times, not --retries
// times, and the answer returned is the registry's own, body and all.
func TestTransportBudget(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"filesystem: write /var/lib/registry/x/data: no space left on device"}]}`)
	}))
	defer srv.Close()
	rt := newRetrying(http.DefaultTransport, 8, time.Minute, time.Second)
	rt.base = time.Millisecond
	ctx := WithBudget(context.Background(), NewBudget(50, time.Minute))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v2/a/blobs/uploads/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if n := calls.Load(); n != SameAnswer {
		t.Errorf("%d requests, want %d", n, SameAnswer)
	}
	serr := statusError(resp, "upload blob sha256:x to a")
	if !strings.Contains(serr.Error(), "HTTP 500 Internal Server Error (UNKNOWN: unknown error: filesystem: write /var/lib/registry/x/data: no space left on device)") {
		t.Errorf("error: %v", serr)
	}
	if Answer(serr) == "" || Cause(serr) != Answer(serr) || strings.Contains(Cause(serr), "sha256:x") {
		t.Errorf("answer %q, cause %q", Answer(serr), Cause(serr))
	}
	// Without a budget: --retries.
	calls.Store(0)
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/v2/a/blobs/uploads/", nil)
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 8 {
		t.Errorf("without a budget: %d requests, want 8", calls.Load())
	}
}

// TestStatusErrorWords: the registry's own words are quoted: its JSON message, with a text
// detail when the message says nothing; else a text body's first line, never an HTML page; a
// long one keeps its end.
func TestStatusErrorWords(t *testing.T) {
	for _, tc := range []struct{ ctype, body, want string }{
		{"text/plain", "no space left on device\nmore", "HTTP 500 Internal Server Error (no space left on device)"},
		{"text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>", "HTTP 500 Internal Server Error"},
		{"application/json", `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"Op":"write"}}]}`, "HTTP 500 Internal Server Error (UNKNOWN: unknown error)"},
		{"text/plain", "\x00\x01binary", "HTTP 500 Internal Server Error"},
		{"text/plain", "storage: " + strings.Repeat("x", 400) + ": no space left on device", "... xxx"},
	} {
		resp := &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {tc.ctype}}, Body: io.NopCloser(strings.NewReader(tc.body))}
		got := statusError(resp, "upload").Error()
		if !strings.Contains(got, tc.want) || len(got) > 400 {
			t.Errorf("%q: %q, want %q", tc.body[:min(20, len(tc.body))], got, tc.want)
		}
		if strings.HasPrefix(tc.body, "storage") && !strings.HasSuffix(got, "no space left on device)") {
			t.Errorf("a long message lost its end: %q", got)
		}
	}
}

// TestCause: failures of many images that share a cause share its text.
func TestCause(t *testing.T) {
	a := errors.New("push a: " + (&StatusError{What: "upload blob sha256:1 to a", Code: 503, Reg: "UNAVAILABLE", Message: "busy"}).Error())
	se1 := &StatusError{What: "upload blob sha256:1 to a", Code: 503, Reg: "UNAVAILABLE", Message: "busy"}
	se2 := &StatusError{What: "upload blob sha256:2 to b", Code: 503, Reg: "UNAVAILABLE", Message: "busy"}
	if Cause(wrap(se1)) != Cause(wrap(se2)) || Cause(se1) != "HTTP 503 Service Unavailable (UNAVAILABLE: busy)" {
		t.Errorf("%q vs %q", Cause(se1), Cause(se2))
	}
	if Cause(a) != a.Error() {
		t.Errorf("a plain error: %q", Cause(a))
	}
	sentinel := errors.New("platform not available")
	for _, img := range []string{"a (r/a:1)", "b (r/b:2)"} {
		err := fmt.Errorf("%s: %w", img, fmt.Errorf("%w: the image is linux/amd64 only, not linux/s390x", sentinel))
		if Cause(err) != "platform not available: the image is linux/amd64 only, not linux/s390x" {
			t.Errorf("a sentinel with words: %q", Cause(err))
		}
	}
	c, _ := New(WithRetry(1, time.Second), WithTimeout(time.Second))
	_, err1 := c.GetManifest(context.Background(), "127.0.0.1:1/a:1")
	_, err2 := c.GetManifest(context.Background(), "127.0.0.1:1/b:2")
	if err1 == nil || Cause(err1) != Cause(err2) || !strings.Contains(Cause(err1), "connection refused") || strings.Contains(Cause(err1), "/a") {
		t.Errorf("connection refused: %q, %q", Cause(err1), Cause(err2))
	}
}

func wrap(err error) error { return errors.Join(errors.New("context"), err) }

// TestSpeaksHTTP: a registry that answers HTTPS in plain HTTP is told as such (ErrSpeaksHTTP:
// the command line names its flag), and counts as a refusal a rerun meets again, not a hiccup.
func TestSpeaksHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := http.Get("https://" + srv.Listener.Addr().String() + "/v2/")
	err = describe(stripURL(err))
	if !errors.Is(err, ErrSpeaksHTTP) || !strings.Contains(err.Error(), "plain HTTP") || strings.Contains(err.Error(), "--") || Transient(err) {
		t.Errorf("err = %v (transient %v)", err, Transient(err))
	}
}

// TestBudgetProgress: an answer gives the count and the deadline back, not the run of
// identical error answers: a registry that opens sessions and refuses every upload still
// ends the transfer after SameAnswer refusals.
func TestBudgetProgress(t *testing.T) {
	b := NewBudget(2, time.Minute)
	for i := range 10 {
		if !b.Retry("") {
			t.Fatalf("retry %d after progress refused", i)
		}
		b.Progress()
	}
	b = NewBudget(100, time.Minute)
	n := 0
	for b.Retry("HTTP 500 (no space left on device)") {
		b.Progress() // the next upload session opens
		n++
	}
	if n != SameAnswer-1 {
		t.Errorf("%d retries of the same answer with progress between, want %d", n, SameAnswer-1)
	}
}
