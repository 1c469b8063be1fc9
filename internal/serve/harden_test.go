package serve

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"golang.org/x/crypto/bcrypt"
)

// bigBlobRegistry is a Registry of one image with a layer of size random bytes.
func bigBlobRegistry(t *testing.T, size int) (*Registry, string) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	fan := testbundle.FanOut(1, 0)
	config := fan[1]
	layer := testbundle.Blob{Data: data, MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	cd, ld := config.Descriptor(), layer.Descriptor()
	m := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}}),
		MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	b := openBundle(t, []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "big", Tag: "1", Root: m}},
		[]testbundle.Blob{m, config, layer})
	r, err := New(t.Context(), []*archive.Bundle{b})
	if err != nil {
		t.Fatal(err)
	}
	return r, layer.Digest()
}

// active counts the requests a handler is answering.
type active struct {
	h http.Handler
	n atomic.Int64
}

func (a *active) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.n.Add(1)
	defer a.n.Add(-1)
	a.h.ServeHTTP(w, r)
}

func startServer(t *testing.T, h http.Handler, timeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, ServerOptions{Timeout: timeout}) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestServeTimeouts: a client that never reads its answer (issue 19: 300 of them pinned 600
// file descriptors) is dropped after the timeout, its request ended (and with it the blob's
// readers); one that never finishes its headers (slowloris) is dropped too; one that reads a
// large blob slowly, but steadily, gets all of it.
func TestServeTimeouts(t *testing.T) {
	const size = 16 << 20 // more than the socket buffers hold (the server's send buffer: 4 MiB at most by default)
	const timeout = 2 * time.Second
	r, digest := bigBlobRegistry(t, size)
	h := &active{h: r}
	addr := startServer(t, h, timeout)
	get := "GET /v2/big/blobs/" + digest + " HTTP/1.1\r\nHost: x\r\n\r\n"

	t.Run("never reads", func(t *testing.T) {
		before := openFiles(t)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(16 << 10) // the blob cannot all wait in the buffers
		io.WriteString(conn, get)
		deadline := time.Now().Add(10 * time.Second)
		for h.n.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		during := openFiles(t)
		// The client holds its end open and reads nothing: the server must end the request
		// and close its side (the connection and the blob's readers).
		for (h.n.Load() != 0 || openFiles(t) > before+1) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("files open: %d before the client, %d while answering it, %d after", before, during, openFiles(t))
		if n, open := h.n.Load(), openFiles(t); n != 0 || open > before+1 {
			t.Fatalf("after 10 s, %d requests still answered, %d files open (%d before the client, %d while answering it; the client's own is one)", n, open, before, during)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /v2/ HTTP/1.1\r\nHost: x\r\n") // and never the end of the headers
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		if isTimeout(err) || time.Since(start) > 10*time.Second {
			t.Errorf("a client that never ends its headers was not dropped within 10 s: %v", err)
		}
	})
	t.Run("reads slowly", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, get)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for {
			n, err := io.CopyN(io.Discard, resp.Body, 2<<20)
			got += n
			if err != nil {
				break
			}
			time.Sleep(timeout / 2) // nothing read for half the timeout, again and again
		}
		if got != size {
			t.Errorf("a slow reader got %d bytes of %d", got, size)
		}
	})
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestServeManyRanges: a request of many ranges (issue 19: 60,000 cost 4.5 s of CPU) is
// refused (416) before anything is read; a few are served.
func TestServeManyRanges(t *testing.T) {
	r, digest := bigBlobRegistry(t, 2<<20)
	var ranges []string
	for i := range 60000 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", i*10, i*10+1))
	}
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"bytes=" + strings.Join(ranges, ","), http.StatusRequestedRangeNotSatisfiable},
		{"bytes=" + strings.Join(ranges[:maxRanges+1], ","), http.StatusRequestedRangeNotSatisfiable},
		{"bytes=" + strings.Join(ranges[:2], ","), http.StatusPartialContent},
		{"bytes=100-", http.StatusPartialContent},
	} {
		req := httptest.NewRequest("GET", "/v2/big/blobs/"+digest, nil)
		req.Header.Set("Range", tc.header)
		w := httptest.NewRecorder()
		start := time.Now()
		r.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%d ranges: %d, want %d", strings.Count(tc.header, ",")+1, w.Code, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%d ranges: %s", strings.Count(tc.header, ",")+1, d)
		}
	}
}

// authRegistry is a Registry requiring user ops (password pw) on a clock the test moves.
func authRegistry(t *testing.T) (*Registry, *time.Time) {
	t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost+1)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := New(t.Context(), nil, WithHtpasswd("h", []byte("ops:"+string(hash)+"\n")), func(o *options) error {
		o.now = func() time.Time { return now }
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, &now
}

func login(r *Registry, from, user, pw string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/v2/", nil)
	req.RemoteAddr = from
	req.SetBasicAuth(user, pw)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestUnknownUserSameWork: an unknown user costs a bcrypt comparison (against a hash of the
// file's cost) as a wrong password does (issue 19: bcrypt only for known users told which
// names exist).
func TestUnknownUserSameWork(t *testing.T) {
	r, _ := authRegistry(t)
	if c, _ := bcrypt.Cost(r.o.users.dummy); c != bcrypt.MinCost+1 {
		t.Errorf("the dummy hash's cost is %d, the file's %d", c, bcrypt.MinCost+1)
	}
	for _, user := range []string{"ops", "root", ""} {
		before := r.compares.Load()
		if w := login(r, fmt.Sprintf("192.0.2.%d:1", len(user)), user, "wrong"); w.Code != http.StatusUnauthorized {
			t.Errorf("%q: %d", user, w.Code)
		}
		if n := r.compares.Load() - before; n != 1 {
			t.Errorf("%q with a wrong password: %d bcrypt comparisons, want 1", user, n)
		}
	}
}

// TestFailedLoginsLimited: after freeFailures failed logins in a row, an address waits 1 s,
// then 2, 4, ... before its next attempt is even compared (429 with Retry-After meanwhile);
// another address logs in all the while; a success clears the count.
func TestFailedLoginsLimited(t *testing.T) {
	r, now := authRegistry(t)
	const attacker, other = "198.51.100.7:4000", "203.0.113.9:5000"
	for i := range freeFailures + 1 {
		if w := login(r, attacker, "ops", "guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	before := r.compares.Load()
	w := login(r, attacker, "ops", "pw") // even the right password waits
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || r.compares.Load() != before {
		t.Fatalf("during the wait: %d, Retry-After %q, %d comparisons", w.Code, w.Header().Get("Retry-After"), r.compares.Load()-before)
	}
	if w := login(r, "198.51.100.7:4001", "root", "x"); w.Code != http.StatusTooManyRequests {
		t.Errorf("another port of the same address: %d", w.Code)
	}
	if w := login(r, other, "ops", "pw"); w.Code != http.StatusOK {
		t.Errorf("another address is locked out: %d", w.Code)
	}
	*now = now.Add(time.Second)
	if w := login(r, attacker, "ops", "guess"); w.Code != http.StatusUnauthorized {
		t.Fatalf("after the wait: %d", w.Code)
	}
	if w := login(r, attacker, "ops", "pw"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("the second wait: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	*now = now.Add(2 * time.Second)
	if w := login(r, attacker, "ops", "pw"); w.Code != http.StatusOK {
		t.Fatalf("the right password after the wait: %d", w.Code)
	}
	if w := login(r, attacker, "ops", "guess"); w.Code != http.StatusUnauthorized {
		t.Errorf("after a success, the count starts again: %d", w.Code)
	}
	// IPv6 addresses of one /64 are one client.
	if clientKey("[2001:db8::1]:1") != clientKey("[2001:db8::ffff]:2") || clientKey("[2001:db8::1]:1") == clientKey("[2001:db8:0:1::1]:1") {
		t.Errorf("IPv6 clients by /64: %s %s", clientKey("[2001:db8::1]:1"), clientKey("[2001:db8:0:1::1]:1"))
	}
}
