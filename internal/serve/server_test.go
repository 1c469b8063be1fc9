package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// writes records the size of every write.
type writes struct {
	http.ResponseWriter
	sizes []int
	fail  error // returned by the write after the first
}

func (w *writes) Write(p []byte) (int, error) {
	if w.fail != nil && len(w.sizes) > 0 {
		return 0, w.fail
	}
	w.sizes = append(w.sizes, len(p))
	return w.ResponseWriter.Write(p)
}

// TestDeadlineWriterChunks: an answer is written writeChunk bytes at a time (each under a
// deadline of its own), all of it; a failed write stops it, saying how much was written.
func TestDeadlineWriterChunks(t *testing.T) {
	rec := &writes{ResponseWriter: httptest.NewRecorder()}
	d := &deadlineWriter{ResponseWriter: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	n, err := d.Write(make([]byte, 2*writeChunk+100))
	if n != 2*writeChunk+100 || err != nil || len(rec.sizes) != 3 || rec.sizes[0] != writeChunk || rec.sizes[2] != 100 {
		t.Fatalf("%d, %v: writes of %v", n, err, rec.sizes)
	}
	broken := errors.New("broken pipe")
	rec = &writes{ResponseWriter: httptest.NewRecorder(), fail: broken}
	d = &deadlineWriter{ResponseWriter: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	if n, err := d.Write(make([]byte, 3*writeChunk)); n != writeChunk || !errors.Is(err, broken) {
		t.Fatalf("a broken write: %d, %v", n, err)
	}
	if d.Unwrap() != rec {
		t.Fatal("Unwrap does not reach the writer below")
	}
}

// TestServeShutdown: Serve answers until its context ends, then returns nil and stops
// listening; a listener that fails stops it with the error.
func TestServeShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, ServerOptions{Timeout: 5 * time.Second}) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("answered %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after its context ended: %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("still listening")
	}

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := Serve(context.Background(), ln, h, ServerOptions{}); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}
