package version

import (
	"runtime/debug"
	"testing"
)

// TestFill: stamped values win; without them, the module version of go install, or the VCS
// revision and time the toolchain recorded.
func TestFill(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-03-04T05:06:07Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name string
		in   Info
		bi   *debug.BuildInfo
		want Info
	}{
		{"stamped", Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-01T00:00:00Z"}, vcs,
			Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-01T00:00:00Z"}},
		{"stamped dirty", Info{Version: "v1.2.3-dirty", Commit: "abc"}, nil, Info{Version: "v1.2.3-dirty", Commit: "abc", Modified: true}},
		{"vcs", Info{Version: "dev"}, vcs, Info{Version: "dev-0123456789ab-dirty", Commit: "0123456789abcdef0123456789abcdef01234567",
			Modified: true, Date: "2026-03-04T05:06:07Z"}},
		{"go install", Info{Version: "dev"}, &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, Info{Version: "v1.4.0"}},
		{"nothing", Info{Version: "dev"}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, Info{Version: "dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fill(tc.in, tc.bi)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if s := (Info{Version: "v1", Commit: "0123456789abcdef", Date: "D", GoVersion: "go1", Platform: "linux/amd64"}).String(); s != "v1 (commit 0123456789ab, built D, go1, linux/amd64)" {
		t.Errorf("String: %q", s)
	}
	if g := Get(); g.GoVersion == "" || g.Platform == "" || g.Version == "" {
		t.Errorf("Get: %+v", g)
	}
}
