package serve

import (
	"strings"
	"testing"
)

// TestWithPathPrefix: a prefix is trimmed of its slashes and must be a repository path
// (lowercase, no .., no empty element); the repositories are served under it, and only there.
func TestWithPathPrefix(t *testing.T) {
	for prefix, want := range map[string]string{"ess": "ess", "/ess/": "ess", "a/b": "a/b", "": ""} {
		var o options
		if err := WithPathPrefix(prefix)(&o); err != nil || o.prefix != want {
			t.Errorf("WithPathPrefix(%q): %q, %v", prefix, o.prefix, err)
		}
	}
	for _, prefix := range []string{"ESS", "a/../b", "..", "a//b"} {
		if _, err := New(t.Context(), nil, WithPathPrefix(prefix)); err == nil || !strings.Contains(err.Error(), "path prefix") {
			t.Errorf("WithPathPrefix(%q): %v", prefix, err)
		}
	}
	f := newFixture(t, WithPathPrefix("/mirror/ess/"))
	if w := f.do("GET", "/v2/mirror/ess/library/a/manifests/1"); w.Code != 200 {
		t.Errorf("under the prefix: %d", w.Code)
	}
	if w := f.do("GET", "/v2/mirror/ess/library/a/blobs/"+f.config.Digest()); w.Code != 200 {
		t.Errorf("a blob under the prefix: %d", w.Code)
	}
	if w := f.do("GET", "/v2/library/a/manifests/1"); w.Code != 404 {
		t.Errorf("without the prefix: %d", w.Code)
	}
}
