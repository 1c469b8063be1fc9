package cli

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/urfave/cli/v2"
)

// fileFlags are bundle create's flags for the plain files a bundle carries.
func fileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "file", Usage: "carry the file `PATH[=NAME]` in the bundle as NAME (default: its base name), listed by list, written out by unbundle extract, verified like every entry (repeatable)"},
		&cli.StringSliceFlag{Name: "with-unbundle", Usage: "carry the unbundle binary of each `OS/ARCH` (linux/amd64,linux/arm64): unbundle-OS-ARCH from the directory of this bundle binary (a release, make release's dist/), or, for this platform, the unbundle beside it (make build's bin/)"},
	}
}

// plainFiles reads --file and --with-unbundle.
func plainFiles(c *cli.Context) ([]create.File, error) {
	var out []create.File
	for _, spec := range c.StringSlice("file") {
		path, name := spec, ""
		if i := strings.LastIndex(spec, "="); i > 0 {
			path, name = spec[:i], spec[i+1:]
		}
		if name == "" {
			name = filepath.Base(path)
		}
		if err := archive.CheckFileName(name); err != nil {
			return nil, usagef("--file %s: %v", spec, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, usagef("--file %s: %v", spec, err)
		}
		if !st.Mode().IsRegular() {
			return nil, usagef("--file %s: not a regular file", spec)
		}
		out = append(out, create.File{Path: path, Name: name, Executable: st.Mode()&0o111 != 0})
	}
	for _, list := range c.StringSlice("with-unbundle") {
		for _, platform := range strings.Split(list, ",") {
			f, err := unbundleBinary(strings.TrimSpace(platform))
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// unbundleBinary finds the unbundle binary of platform (OS/ARCH) beside the running bundle:
// unbundle-OS-ARCH[.exe], as make release names it, or, for the platform this bundle runs on,
// unbundle. Go's build information in the file must say it is unbundle, for that platform.
// Nothing is compiled: a release carries what it was released with.
func unbundleBinary(platform string) (create.File, error) {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok || goos == "" || goarch == "" || strings.ContainsAny(platform, `\ `) || strings.Count(platform, "/") != 1 {
		return create.File{}, usagef("--with-unbundle %q: want OS/ARCH, e.g. linux/amd64", platform)
	}
	name := "unbundle-" + goos + "-" + goarch
	if goos == "windows" {
		name += ".exe"
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return create.File{}, fmt.Errorf("--with-unbundle: where this program is: %w", err)
	}
	dir := filepath.Dir(self)
	candidates := []string{filepath.Join(dir, name)}
	if platform == runtime.GOOS+"/"+runtime.GOARCH {
		candidates = append(candidates, filepath.Join(dir, "unbundle"))
	}
	for _, path := range candidates {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := checkUnbundle(path, goos, goarch); err != nil {
			return create.File{}, fmt.Errorf("--with-unbundle %s: %w", platform, err)
		}
		return create.File{Path: path, Name: name, Executable: true}, nil
	}
	return create.File{}, usagef("--with-unbundle %s: no %s beside %s: run the bundle of a release (make release puts every platform's binaries in dist/), or put %s there",
		platform, strings.Join(baseNames(candidates), " or "), self, name)
}

// checkUnbundle checks, from the build information Go records in a binary, that the file at
// path is unbundle built for goos/goarch.
func checkUnbundle(path, goos, goarch string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: not a Go binary: %w", path, err)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if !strings.HasSuffix(bi.Path, "/cmd/unbundle") {
		return fmt.Errorf("%s is %s, not unbundle", path, bi.Path)
	}
	if set["GOOS"] != goos || set["GOARCH"] != goarch {
		return fmt.Errorf("%s is built for %s/%s, not %s/%s", path, set["GOOS"], set["GOARCH"], goos, goarch)
	}
	return nil
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}
