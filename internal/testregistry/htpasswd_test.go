package testregistry

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHtpasswdCache: accepted credentials are accepted again without a bcrypt check; none, a
// wrong password, and credentials the htpasswd file no longer holds get Distribution's 401 and
// its Basic challenge.
func TestHtpasswdCache(t *testing.T) {
	dir := t.TempDir()
	r, err := Start(t.Context(), dir, WithAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	get := func(user, password string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+r.Host+"/v2/", nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	want := func(what string, resp *http.Response, code int) {
		t.Helper()
		if resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", what, resp.StatusCode, code)
		}
		if code == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != `Basic realm="testregistry"` {
			t.Errorf("%s: challenge %q", what, resp.Header.Get("WWW-Authenticate"))
		}
	}
	want("no credentials", get("", ""), http.StatusUnauthorized)
	want("first", get("alice", "s3cret"), http.StatusOK)
	want("again", get("alice", "s3cret"), http.StatusOK)
	want("wrong password", get("alice", "wrong"), http.StatusUnauthorized)
	want("unknown user", get("bob", "s3cret"), http.StatusUnauthorized)

	// A new file: what the old one accepted is checked again, and refused.
	path := filepath.Join(dir, HtpasswdFile)
	if err := writeHtpasswd(path, "alice", "n3w"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	want("old password, new file", get("alice", "s3cret"), http.StatusUnauthorized)
	want("new password", get("alice", "n3w"), http.StatusOK)
}
