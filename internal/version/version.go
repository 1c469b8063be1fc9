package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Set by the Makefile and `make release` with
// -ldflags "-X github.com/element-hq/ess-airgap/internal/version.Version=v1.2.3 ...".
var (
	// Version is the release (`git describe --tags --always --dirty`), or "dev".
	Version = "dev"
	// Commit is the full git commit the binary was built from, or "".
	Commit = ""
	// Date is the build date, RFC 3339 UTC: $SOURCE_DATE_EPOCH, or the commit's time; "".
	Date = ""
)

// Info describes the running build. Its JSON is part of `version --json` (docs/json.md).
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`     // "" when unknown
	Modified  bool   `json:"modified"`   // built from a tree with uncommitted changes
	Date      string `json:"build_date"` // RFC 3339 UTC; "" when unknown
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Get returns the running build's Info: the stamped values, each missing one filled from the
// build information the Go toolchain recorded. Safe for concurrent use.
var Get = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return fill(Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}, bi)
})

// Tool is how a program names itself in what it writes (a bundle's manifest, a User-Agent,
// a report): "bundle v1.2.3".
func Tool(prog string) string { return prog + " " + Get().Version }

// fill completes info from bi (nil: nothing recorded).
func fill(info Info, bi *debug.BuildInfo) Info {
	info.Modified = strings.HasSuffix(info.Version, "-dirty")
	if bi == nil {
		return info
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if info.Commit == "" {
		info.Commit = settings["vcs.revision"]
		info.Modified = info.Modified || settings["vcs.modified"] == "true"
	}
	if info.Date == "" {
		if t, err := time.Parse(time.RFC3339, settings["vcs.time"]); err == nil {
			info.Date = t.UTC().Format(time.RFC3339)
		}
	}
	if info.Version == "dev" || info.Version == "" {
		switch v := bi.Main.Version; {
		case v != "" && v != "(devel)": // go install module@version
			info.Version = v
		case info.Commit != "":
			info.Version = "dev-" + short(info.Commit)
			if info.Modified {
				info.Version += "-dirty"
			}
		}
	}
	return info
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// String is the one-line form: "v1.2.3 (commit abc123def456, built 2026-01-02T03:04:05Z,
// go1.26.8, linux/amd64)".
func (i Info) String() string {
	var parts []string
	if i.Commit != "" {
		c := "commit " + short(i.Commit)
		if i.Modified {
			c += " with local changes"
		}
		parts = append(parts, c)
	}
	if i.Date != "" {
		parts = append(parts, "built "+i.Date)
	}
	parts = append(parts, i.GoVersion, i.Platform)
	return i.Version + " (" + strings.Join(parts, ", ") + ")"
}
