package oci

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// fakeRegistry is a registry on loopback that answers every request with answer; the
// hostile answers real registries never give on purpose, but proxies and broken storage do.
func fakeRegistry(t *testing.T, answer http.HandlerFunc) (*Client, string) {
	t.Helper()
	srv := httptest.NewServer(answer)
	t.Cleanup(srv.Close)
	return must(New(WithRetry(1, time.Second))), srv.Listener.Addr().String()
}

// TestGetManifestHostile: a manifest asked for by digest is checked against it, whatever the
// registry says its digest is; one asked for by tag is recorded as the digest of the bytes
// served; a manifest over manifest.MaxBytes is refused, from its Content-Length when it has one.
func TestGetManifestHostile(t *testing.T) {
	served := []byte(`{"schemaVersion":2}`)
	asked := verify.Digest([]byte(`{"schemaVersion":2,"other":true}`))
	c, host := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/manifests/huge") {
			w.Header().Set("Content-Type", manifest.OCIManifest)
			w.Write(make([]byte, manifest.MaxBytes+1)) // chunked: no length to refuse it by
			return
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/manifests/declared") {
			w.Header().Set("Content-Type", manifest.OCIManifest)
			w.Header().Set("Content-Length", fmt.Sprint(manifest.MaxBytes+1))
			return // refused from its length, before a byte is read: none follows
		}
		w.Header().Set("Content-Type", manifest.OCIManifest+"; charset=utf-8")
		w.Header().Set("Docker-Content-Digest", asked) // a lie: the bytes are what counts
		w.Write(served)
	})
	_, err := c.GetManifest(t.Context(), host+"/ess/app@"+asked)
	if !errors.Is(err, verify.ErrMismatch) || !strings.Contains(err.Error(), host+"/ess/app@"+asked) {
		t.Fatalf("by digest, other bytes served: err = %v, want ErrMismatch naming the manifest", err)
	}
	m, err := c.GetManifest(t.Context(), host+"/ess/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != verify.Digest(served) || string(m.Raw) != string(served) || m.MediaType != manifest.OCIManifest {
		t.Fatalf("by tag: digest %s, media type %q, %q", m.Digest, m.MediaType, m.Raw)
	}
	for _, tag := range []string{"huge", "declared"} {
		if _, err := c.GetManifest(t.Context(), host+"/ess/app:"+tag); !errors.Is(err, manifest.ErrTooLarge) {
			t.Fatalf("over the cap (%s): err = %v, want manifest.ErrTooLarge", tag, err)
		}
	}
}

// TestExists: a HEAD's answer, for a blob and a manifest: 200 yes, 404 no, 401 and 403 no
// (Harbor, GitLab and Artifactory answer so for a repository that does not exist yet: the
// upload that follows is the real check), anything else an error naming what was checked.
func TestExists(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   bool
		err    bool
	}{
		{http.StatusOK, true, false},
		{http.StatusNotFound, false, false},
		{http.StatusUnauthorized, false, false},
		{http.StatusForbidden, false, false},
		{http.StatusInternalServerError, false, true},
		{http.StatusBadRequest, false, true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var mu sync.Mutex
			var methods []string
			c, host := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return // the session's check of credentials: none needed
				}
				mu.Lock()
				methods = append(methods, r.Method)
				mu.Unlock()
				w.WriteHeader(tc.status)
			})
			s, err := c.ReadSession(t.Context(), host)
			if err != nil {
				t.Fatal(err)
			}
			d := verify.Digest([]byte("x"))
			for kind, exists := range map[string]func() (bool, error){
				"blob":     func() (bool, error) { return s.BlobExists(t.Context(), "ess/app", d) },
				"manifest": func() (bool, error) { return s.ManifestExists(t.Context(), "ess/app", d) },
			} {
				got, err := exists()
				if got != tc.want || (err != nil) != tc.err {
					t.Errorf("%s: %v, %v; want %v, error %v", kind, got, err, tc.want, tc.err)
				}
				if err != nil && !strings.Contains(err.Error(), d) {
					t.Errorf("%s: %v does not name the digest", kind, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(methods) != 2 {
				t.Errorf("%d requests, want 2", len(methods))
			}
			for _, m := range methods {
				if m != http.MethodHead {
					t.Errorf("asked %s, want HEAD only", m)
				}
			}
		})
	}
}
