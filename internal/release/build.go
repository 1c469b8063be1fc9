package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Platforms are those a release is built for: the bastion (linux amd64 and arm64) and the
// connected side (often a macOS or Windows laptop).
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

// Programs are the commands a release carries.
var Programs = []string{"bundle", "unbundle"}

// Options says what to build.
type Options struct {
	Dir       string    // the output directory (dist); emptied first
	Source    string    // the module's root directory
	Platforms []string  // GOOS/GOARCH; default Platforms
	Version   string    // e.g. v1.2.3 (git describe)
	Commit    string    // the full commit
	Date      time.Time // the build date: $SOURCE_DATE_EPOCH, the commit's time
	Go        string    // the go command; default "go"
	Log       func(format string, a ...any)
}

// Artifact is one binary built.
type Artifact struct {
	Program, Platform string
	File              string // its name in Dir: bundle-linux-amd64, unbundle-windows-amd64.exe
	SBOM              string // its SBOM's name in Dir: FILE.spdx.json
}

// FileName is the name of program's binary for platform: PROGRAM-OS-ARCH, .exe on Windows.
func FileName(program, platform string) string {
	name := program + "-" + strings.ReplaceAll(platform, "/", "-")
	if strings.HasPrefix(platform, "windows/") {
		name += ".exe"
	}
	return name
}

// Build builds every program for every platform into o.Dir, with an SBOM beside each. The same
// source, options and Go toolchain give byte-identical files.
func Build(ctx context.Context, o Options) ([]Artifact, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	if len(o.Platforms) == 0 {
		o.Platforms = Platforms
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.Version == "" || o.Date.IsZero() {
		return nil, errors.New("release: a version and a build date are needed")
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	var out []Artifact
	for _, platform := range o.Platforms {
		goos, goarch, ok := strings.Cut(platform, "/")
		if !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("release: platform %q: want OS/ARCH", platform)
		}
		for _, prog := range Programs {
			a := Artifact{Program: prog, Platform: platform, File: FileName(prog, platform)}
			a.SBOM = a.File + ".spdx.json"
			start := time.Now()
			if err := o.build(ctx, prog, goos, goarch, filepath.Join(o.Dir, a.File)); err != nil {
				return nil, err
			}
			sbom, err := SPDX(filepath.Join(o.Dir, a.File), o.Version, o.Date)
			if err != nil {
				return nil, fmt.Errorf("release: SBOM of %s: %w", a.File, err)
			}
			if err := os.WriteFile(filepath.Join(o.Dir, a.SBOM), sbom, 0o644); err != nil {
				return nil, err
			}
			o.Log("built %s in %s", a.File, time.Since(start).Round(100*time.Millisecond))
			out = append(out, a)
		}
	}
	return out, nil
}

// LDFlags are the linker flags of a release build: stripped, no build id, the version stamped.
func (o Options) LDFlags() string {
	const pkg = "github.com/element-hq/ess-airgap/internal/version"
	return fmt.Sprintf("-s -w -buildid= -X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s", pkg, o.Version, pkg, o.Commit, pkg,
		o.Date.UTC().Format(time.RFC3339))
}

// build runs go build for one program and platform, in an environment of its own: static
// (CGO_ENABLED=0), the baseline instruction sets, no GOFLAGS of the caller's.
func (o Options) build(ctx context.Context, prog, goos, goarch, out string) error {
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-buildvcs=false", "-mod=readonly",
		"-ldflags", o.LDFlags(), "-o", out, "./cmd/"+prog)
	cmd.Dir = o.Source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=", "GOAMD64=v1",
		"GOARM64=v8.0", "GOEXPERIMENT=", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("release: go build %s for %s/%s: %v\n%s", prog, goos, goarch, err, stderr.String())
	}
	return nil
}

// HostPlatform is the platform this program runs on, GOOS/GOARCH.
func HostPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }
