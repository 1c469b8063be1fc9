package imageref

import (
	"encoding/json"
	"testing"
)

func TestEntry(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		e             Entry
		key, repo, at string
	}{
		{Entry{"adminbot", "haproxy", "docker.io", "library/haproxy", "2.8-alpine"}, "adminbot.haproxy", "docker.io/library/haproxy", "docker.io/library/haproxy:2.8-alpine"},
		{Entry{"a", "b", "localhost:5000", "x/y", ""}, "a.b", "localhost:5000/x/y", "localhost:5000/x/y@" + dg},
		{Entry{"", "", "", "p", ""}, ".", "/p", "/p@" + dg}, // no server: the caller decides (archive.Image.Ref)
	} {
		if got := tc.e.Key(); got != tc.key {
			t.Errorf("%+v Key() = %q, want %q", tc.e, got, tc.key)
		}
		if got := tc.e.Repository(); got != tc.repo {
			t.Errorf("%+v Repository() = %q, want %q", tc.e, got, tc.repo)
		}
		if got := tc.e.RefAt(dg); got != tc.at {
			t.Errorf("%+v RefAt() = %q, want %q", tc.e, got, tc.at)
		}
	}
}

func TestEntryJSON(t *testing.T) {
	for e, want := range map[Entry]string{
		{"c", "x", "ghcr.io", "a/b", "1.0"}: `{"component":"c","container":"x","server":"ghcr.io","path":"a/b","tag":"1.0"}`,
		{"c", "x", "ghcr.io", "a/b", ""}:    `{"component":"c","container":"x","server":"ghcr.io","path":"a/b"}`,
	} {
		got, err := json.Marshal(e)
		if err != nil || string(got) != want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", e, got, err, want)
		}
		var back Entry
		if err := json.Unmarshal(got, &back); err != nil || back != e {
			t.Errorf("read back %s = %+v, %v", got, back, err)
		}
	}
}
