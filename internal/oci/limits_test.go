package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

// hostileUpstream is a registry that answers everything with too much: manifests, referrers
// lists and tags pages of many MiB, error bodies without end, tags lists of endless pages.
func hostileUpstream(t *testing.T) (host string, pages *atomic.Int64) {
	t.Helper()
	pages = &atomic.Int64{}
	big := append([]byte(`{"schemaVersion":2,"mediaType":"`+manifest.OCIManifest+`","config":{}}`), bytes.Repeat([]byte(" "), 8<<20)...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(p, "/v2/declared/"): // says 8 MiB up front, then sends them
			w.Header().Set("Content-Type", manifest.OCIManifest)
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case strings.HasSuffix(p, "/tags/list"): // a next page, for ever
			n := pages.Add(1)
			w.Header().Set("Link", fmt.Sprintf(`<%s?last=t%d>; rel="next"`, p, n))
			fmt.Fprintf(w, `{"tags":["t%d"]}`, n)
		case strings.HasPrefix(p, "/v2/error/"): // 404 with a body without end
			w.WriteHeader(http.StatusNotFound)
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for i := 0; i < 16384 && r.Context().Err() == nil; i++ { // up to 1 GiB
				w.Write(chunk)
			}
		case strings.Contains(p, "/manifests/") || strings.Contains(p, "/referrers/"): // chunked: no length
			w.Header().Set("Content-Type", manifest.OCIManifest)
			if strings.Contains(p, "/referrers/") {
				w.Header().Set("Content-Type", manifest.OCIIndex)
			}
			for i := 0; i < len(big); i += 1 << 20 {
				w.Write(big[i:min(i+1<<20, len(big))])
				w.(http.Flusher).Flush()
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), pages
}

func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestUpstreamCaps: what an upstream sends is read up to our caps, not the library's (issue
// 19: manifests were read up to go-containerregistry's 100 MiB): a manifest over
// manifest.MaxBytes, declared or not, by tag or through a session, a referrers list over it,
// an error body without end and a tags list of endless pages each fail (or end) within the
// 10 s bound, having allocated little (the tags pages: at most maxTagPages of them), and the
// error names the registry and what was asked.
func TestUpstreamCaps(t *testing.T) {
	host, pages := hostileUpstream(t)
	c, err := New(WithTimeout(5*time.Second), WithRetry(2, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.ReadSession(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	var ctx context.Context // each case's: 10 s
	var cancel context.CancelFunc
	for _, tc := range []struct {
		name string
		do   func() error
		want error
		says string
	}{
		{"manifest by tag", func() error { _, err := c.GetManifest(ctx, host+"/chunked:1"); return err }, manifest.ErrTooLarge, "chunked:1"},
		{"declared manifest", func() error { _, err := c.GetManifest(ctx, host+"/declared:1"); return err }, manifest.ErrTooLarge, "declared:1"},
		{"session manifest", func() error { _, _, err := s.GetManifest(ctx, "chunked", "1"); return err }, manifest.ErrTooLarge, "chunked:1"},
		{"read back", func() error { _, err := s.ResolveTag(ctx, "declared", "1"); return err }, manifest.ErrTooLarge, "declared:1"},
		{"referrers list", func() error { _, err := c.Referrers(ctx, host+"/chunked", digest); return err }, manifest.ErrTooLarge, "chunked@" + digest},
		{"error body", func() error { _, err := c.GetManifest(ctx, host+"/error:1"); return err }, ErrNotFound, "error"},
		{"endless tags", func() error { _, err := c.ListTags(ctx, host+"/endless"); return err }, nil, "more than"},
	} {
		var err error
		start := time.Now()
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		alloc := allocatedBy(func() { err = tc.do() })
		cancel()
		t.Logf("%s: %v (%d MiB allocated, %s)", tc.name, err, alloc>>20, time.Since(start).Round(time.Millisecond))
		switch {
		case err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says):
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		case alloc > 64<<20 && tc.name != "endless tags": // pages are small and freed: their bound is their count
			t.Errorf("%s: allocated %d MiB", tc.name, alloc>>20)
		case time.Since(start) > 10*time.Second:
			t.Errorf("%s: %s", tc.name, time.Since(start))
		}
		if err != nil && len(err.Error()) > 500 {
			t.Errorf("%s: an error of %d bytes (an error body quoted?)", tc.name, len(err.Error()))
		}
		if err != nil && tc.want == manifest.ErrTooLarge && (!strings.Contains(err.Error(), host) || Transient(err)) {
			t.Errorf("%s: %v does not name %s, or is transient", tc.name, err, host)
		}
	}
	if n := pages.Load(); n > maxTagPages+1 {
		t.Errorf("%d pages of tags read, cap %d", n, maxTagPages)
	}
}

// TestLimitedBody: a body of exactly the limit reads whole; one byte more fails.
func TestLimitedBody(t *testing.T) {
	for _, n := range []int{manifest.MaxBytes, manifest.MaxBytes + 1} {
		b := &limitedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, n))), left: manifest.MaxBytes, limit: manifest.MaxBytes, what: "m"}
		got, err := io.ReadAll(b)
		if ok := n <= manifest.MaxBytes; ok != (err == nil) || (ok && len(got) != n) {
			t.Errorf("%d bytes: read %d, %v", n, len(got), err)
		}
	}
}

func TestPathKind(t *testing.T) {
	for p, want := range map[string]string{
		"/v2/a/manifests/1": "/manifests/", "/v2/a/manifests/b/blobs/sha256:x": "/blobs/",
		"/v2/a/blobs/b/manifests/1": "/manifests/", "/v2/a/tags/list": "/tags/", "/v2/a/referrers/sha256:x": "/referrers/", "/v2/": "",
	} {
		if got := pathKind(p); got != want {
			t.Errorf("pathKind(%q) = %q, want %q", p, got, want)
		}
	}
}
