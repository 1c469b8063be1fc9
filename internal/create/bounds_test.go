package create

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// allocated runs fn and returns the bytes allocated meanwhile (by every goroutine).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// stallingProxy forwards to the registry at host and stalls what stall says: the answer to a
// request (nothing sent until the client gives up), or a body after its first 4 KiB. It
// counts the requests it stalled.
func stallingProxy(t *testing.T, host string, stall func(*http.Request) (answer, body bool)) (string, *atomic.Int64) {
	t.Helper()
	var stalled atomic.Int64
	target, _ := url.Parse("http://" + host)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer, body := stall(r)
		switch {
		case answer:
			stalled.Add(1)
			<-r.Context().Done()
		case body:
			stalled.Add(1)
			rp.ServeHTTP(&stallWriter{ResponseWriter: w, ctx: r.Context(), left: 4 << 10}, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &stalled
}

// stallWriter passes left bytes on, then waits for the client to go.
type stallWriter struct {
	http.ResponseWriter
	ctx  context.Context
	left int
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.left <= 0 {
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	n := min(len(p), s.left)
	s.left -= n
	s.ResponseWriter.Write(p[:n])
	s.ResponseWriter.(http.Flusher).Flush()
	if n < len(p) {
		<-s.ctx.Done()
		return n, s.ctx.Err()
	}
	return n, nil
}

func (s *stallWriter) Flush() { s.ResponseWriter.(http.Flusher).Flush() }

// TestCreateStallingUpstream: an upstream that stops sending (issue 19: a stalling upstream
// held one image more than 5 minutes) costs --timeout per stall, oci.MaxStalls of them: a
// blob whose body stalls fails the run, a manifest whose answer stalls fails its image (the
// others are bundled), each naming the stall, within the 10 s bound with --timeout 1s.
func TestCreateStallingUpstream(t *testing.T) {
	up := testregistry.StartT(t)
	images, err := fixture.Generate(t.Context(), fixture.Options{Registry: up.Host, Size: 1 << 20, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	stuck := images[0].Path
	for _, tc := range []struct {
		name  string
		stall func(*http.Request) (bool, bool)
	}{
		{"blob bodies", func(r *http.Request) (bool, bool) {
			return false, r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
		}},
		{"one image's manifests", func(r *http.Request) (bool, bool) {
			return strings.HasPrefix(r.URL.Path, "/v2/"+stuck+"/manifests/"), false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, stalled := stallingProxy(t, up.Host, tc.stall)
			list := slices.Clone(images)
			if tc.name == "blob bodies" { // one image: the time is its stalls'
				list = slices.DeleteFunc(list, func(im digests.Image) bool { return im.Path != stuck })
			}
			for i := range list {
				list[i].Server = proxy
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			// Stalled manifests fail their image while resolving: a dry run stops there.
			dry := tc.name == "one image's manifests"
			res, err := Create(ctx, newClient(t, oci.WithTimeout(time.Second)), CreateOptions{List: &digests.List{File: "list.yml", Images: list},
				Output: filepath.Join(t.TempDir(), "b.tar.zst"), Tool: "test", DryRun: dry})
			took := time.Since(start)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("err %v after %s", err, took)
			}
			cause := err
			if res != nil && res.Failed[list[0].Key()] != nil {
				cause = res.Failed[list[0].Key()]
			}
			if !strings.Contains(cause.Error(), "stalled") {
				t.Errorf("the cause does not name the stall: %v", cause)
			}
			if tc.name == "one image's manifests" && (res == nil || len(res.Manifest.Images) == 0) {
				t.Errorf("the other images were not bundled: %v", err)
			}
			// A stalled request is tried again until it stalled oci.MaxStalls times (or its
			// retries ran out: newClient allows 3 attempts); a blob as many times at most.
			if n := stalled.Load(); n > oci.MaxStalls*int64(len(list)) || (tc.name == "one image's manifests" && n != 3) {
				t.Errorf("%d stalled requests", n)
			}
			t.Logf("%s: %s, %d stalled requests: %v", tc.name, took.Round(time.Millisecond), stalled.Load(), cause)
		})
	}
}

// TestReferrersBounded: an upstream listing more referrers for an image than maxReferrers
// fails that image, naming the subject, before a single referrer is fetched.
func TestReferrersBounded(t *testing.T) {
	var fetched atomic.Int64
	subject := "sha256:" + strings.Repeat("5", 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/v2/":
		case strings.HasSuffix(p, "/tags/list"):
			w.Write([]byte(`{"tags":[]}`))
		case strings.Contains(p, "/referrers/"):
			var descs []manifest.Descriptor
			for i := range maxReferrers + 1 {
				descs = append(descs, manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: fmt.Sprintf("sha256:%064x", i), Size: 100})
			}
			w.Header().Set("Content-Type", manifest.OCIIndex)
			w.Write(manifest.ReferrersIndex(descs))
		default:
			fetched.Add(1)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	src := digests.Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: host, Path: "signed", Tag: "1"}}
	im := &image{group: digests.Group{Source: src, Members: []digests.Image{src}},
		root: &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: subject, Size: 100}}}
	ok, failed, _ := findReferrers(t.Context(), newClient(t), mirror.DefaultJobs, []*image{im}, nil, newHeldBytes())
	err := failed["c.x"]
	if len(ok) != 0 || !errors.Is(err, manifest.ErrBad) || !strings.Contains(err.Error(), subject) || fetched.Load() != 0 {
		t.Fatalf("ok %d, err %v, %d referrers fetched", len(ok), err, fetched.Load())
	}
}

// TestHeldBytes: what a run reads into memory is counted once per digest, manifests and
// configs apart, and refused past manifest.MaxTotalBytes (each image's graph being bounded
// on its own, this bounds them together: many images of 16 MiB of manifests each).
func TestHeldBytes(t *testing.T) {
	h := newHeldBytes()
	for i := range manifest.MaxTotalBytes / manifest.MaxBytes {
		if err := h.manifest(fmt.Sprint("m", i), manifest.MaxBytes); err != nil {
			t.Fatalf("manifest %d: %v", i, err)
		}
		if err := h.manifest(fmt.Sprint("m", i), manifest.MaxBytes); err != nil { // the same digest again: held once
			t.Fatalf("manifest %d again: %v", i, err)
		}
	}
	if err := h.config("c", manifest.MaxBytes); err != nil {
		t.Fatalf("a config: %v", err)
	}
	if err := h.manifest("one more", 1); !errors.Is(err, manifest.ErrGraph) || !strings.Contains(err.Error(), "the images") {
		t.Fatalf("past the total: %v", err)
	}
}
