package version

import (
	"os"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
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

// TestFillEdges: an unreadable VCS time is left out; a stamped commit keeps the stamped
// "modified" (the toolchain's is about the tree, the stamp names the commit); an empty version
// is "dev"; a short commit is named whole.
func TestFillEdges(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.time", Value: "yesterday"}, {Key: "vcs.modified", Value: "true"}}}
	if got := fill(Info{Version: "dev"}, bi); got.Date != "" || got.Version != "dev-abc-dirty" || got.Commit != "abc" {
		t.Errorf("vcs with a bad time: %+v", got)
	}
	if got := fill(Info{Version: "v1", Commit: "stamped"}, bi); got.Modified || got.Commit != "stamped" || got.Version != "v1" {
		t.Errorf("stamped commit: %+v", got)
	}
	if got := fill(Info{}, &debug.BuildInfo{Main: debug.Module{Version: "v2.0.0"}}); got.Version != "v2.0.0" {
		t.Errorf("empty version: %+v", got)
	}
	if got := fill(Info{Version: "dev", Date: "D"}, bi); got.Date != "D" {
		t.Errorf("a stamped date was replaced: %+v", got)
	}
}

func TestString(t *testing.T) {
	for _, c := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "dev", GoVersion: "go1.26", Platform: "linux/arm64"}, "dev (go1.26, linux/arm64)"},
		{Info{Version: "v1", Commit: "abc", Modified: true, GoVersion: "go1", Platform: "p"}, "v1 (commit abc with local changes, go1, p)"},
		{Info{Version: "v1", Date: "2026-01-01T00:00:00Z", GoVersion: "go1", Platform: "p"}, "v1 (built 2026-01-01T00:00:00Z, go1, p)"},
	} {
		if got := c.in.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if got := Tool("unbundle"); got != "unbundle "+Get().Version {
		t.Errorf("Tool = %q", got)
	}
}

// TestMakefileStamps: the linker silently ignores -X for a variable that does not exist, so a
// renamed variable or package would leave every build "dev". The Makefile's -X flags must name
// this package and its three variables.
func TestMakefileStamps(t *testing.T) {
	data, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	pkg := reflect.TypeOf(Info{}).PkgPath()
	m := regexp.MustCompile(`(?m)^VPKG\s*:?=\s*(\S+)`).FindSubmatch(data)
	if m == nil || string(m[1]) != pkg {
		t.Fatalf("the Makefile's VPKG is %q, this package is %s", m, pkg)
	}
	var names []string
	for _, x := range regexp.MustCompile(`-X \$\(VPKG\)\.(\w+)=`).FindAllSubmatch(data, -1) {
		names = append(names, string(x[1]))
	}
	if strings.Join(names, " ") != "Version Commit Date" {
		t.Errorf("the Makefile stamps %q, want Version, Commit and Date", names)
	}
	_ = []*string{&Version, &Commit, &Date} // they exist, as strings the linker can set: a rename fails to compile here
}
