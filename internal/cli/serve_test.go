package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "localhost:5000": true, "127.9.9.9:1": true,
		":5000": false, "0.0.0.0:5000": false, "10.0.0.1:5000": false, "registry.local:5000": false, "127.0.0.1": false, "": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v", addr, got)
		}
	}
}

// TestServeUsage: serve refuses what it cannot do safely or at all, before it opens the bundle.
func TestServeUsage(t *testing.T) {
	b := filepath.Join(t.TempDir(), "x.tar.zst")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"serve"}, "serve: missing bundle argument"},
		{[]string{"serve", "--tls-cert", "c.pem", b}, "give --tls-cert and --tls-key together"},
		{[]string{"serve", "--tls-key", "k.pem", b}, "give --tls-cert and --tls-key together"},
		{[]string{"serve", "--htpasswd", "h", "--addr", ":5000", b}, "--htpasswd without --tls-cert would take passwords in clear"},
		{[]string{"serve", "--timeout", "0s", b}, "--timeout must be positive"},
		{[]string{"serve", "--htpasswd", filepath.Join(t.TempDir(), "nope"), "--addr", "127.0.0.1:0", b}, "--htpasswd: open"},
		{[]string{"serve", "--tls-cert", "c.pem", "--tls-key", "k.pem", b}, "--tls-cert c.pem, --tls-key k.pem"},
	} {
		r := runMain("unbundle", "", tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%v: exit %d, want %d saying %q:\n%s", tc.args, r.code, ExitUsage, tc.says, r.stderr)
		}
	}
}

// TestServeUntilInterrupted: serve says where it listens, answers the registry API from the
// bundle (an image's manifest by its tag, with its digest), and Ctrl-C stops it, exit 0 (it is
// how serve stops), saying what it served.
func TestServeUntilInterrupted(t *testing.T) {
	w := newWorld(t, 161)
	bundle := filepath.Join(w.dir, "s.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", bundle, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, "unbundle", []string{"unbundle", "serve", "--addr", "127.0.0.1:0", bundle}, nil, pw, &errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no first line: %v (exit %d)", err, <-done)
	}
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) \(read-only\)`).FindStringSubmatch(line)
	if m == nil || !strings.Contains(line, "s.tar.zst") {
		cancel()
		<-done
		t.Fatalf("first line: %q", line)
	}
	go io.Copy(io.Discard, pr)
	im := w.images[0]
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m[1]+"/v2/"+im.Path+"/manifests/"+im.Tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != im.Digest {
		t.Errorf("manifest of %s: %s, digest %q, want %s", im.Ref(), resp.Status, resp.Header.Get("Docker-Content-Digest"), im.Digest)
	}
	cancel()
	if code := <-done; code != ExitOK { // Ctrl-C is how serve is stopped: not an interrupted run
		t.Errorf("exit %d after Ctrl-C", code)
	}
	if !strings.Contains(errb.String(), "stopped: ") || !strings.Contains(errb.String(), "requests answered") {
		t.Errorf("stderr: %s", errb.String())
	}
}
