// Command release is `make release`: it builds bundle and unbundle for every release platform
// into dist/, with an SPDX SBOM each, SHA256SUMS and, with -sign-key (make release
// SIGN_KEY=FILE), SHA256SUMS.sig; then checks what it built: the binaries of this platform run
// `version`, the others' stamped version is read from their build information (go version -m).
// See internal/release and docs/release.md.
package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/release"
	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	dir := fs.String("dist", "dist", "the output directory (emptied first)")
	platforms := fs.String("platforms", strings.Join(release.Platforms, ","), "GOOS/GOARCH,...")
	ver := fs.String("version", "", "the version (default: git describe --tags --always --dirty)")
	commit := fs.String("commit", "", "the commit (default: git rev-parse HEAD)")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "the build date, seconds since 1970 (default: $SOURCE_DATE_EPOCH, else the commit's time)")
	key := fs.String("sign-key", "", "sign SHA256SUMS with this ed25519 OpenSSH key `FILE` (or the .pub of a key an ssh-agent holds); passphrase from $SIGN_KEY_PASSPHRASE")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if *ver == "" {
		if *ver, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	if *commit == "" {
		if *commit, err = git("rev-parse", "HEAD"); err != nil {
			return err
		}
	}
	if *epoch == "" {
		if *epoch, err = git("log", "-1", "--format=%ct"); err != nil {
			return err
		}
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", *epoch)
	}
	var signer ssh.Signer
	if *key != "" { // load it first: a wrong key fails before minutes of building
		s, err := sshsig.LoadSigner(*key, func() ([]byte, error) {
			if p := os.Getenv("SIGN_KEY_PASSPHRASE"); p != "" {
				return []byte(p), nil
			}
			return nil, fmt.Errorf("set $SIGN_KEY_PASSPHRASE to its passphrase, or give the .pub of a key an ssh-agent holds")
		})
		if err != nil {
			return fmt.Errorf("SIGN_KEY: %w", err)
		}
		signer = s
	}
	src, err := os.Getwd()
	if err != nil {
		return err
	}
	o := release.Options{Dir: *dir, Source: src, Platforms: strings.Split(*platforms, ","), Version: *ver, Commit: *commit,
		Date: time.Unix(secs, 0).UTC(), Log: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }}
	fmt.Fprintf(stdout, "release %s (commit %s, date %s) into %s/\n", o.Version, o.Commit, o.Date.Format(time.RFC3339), o.Dir)
	arts, err := release.Build(ctx, o)
	if err != nil {
		return err
	}
	if _, err := release.WriteSums(o.Dir); err != nil {
		return err
	}
	if signer != nil {
		if err := release.Sign(o.Dir, signer); err != nil {
			return err
		}
	}
	for _, a := range arts {
		if err := check(ctx, o, a, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d binaries, their SBOMs and %s in %s/", len(arts), release.SumsName, o.Dir)
	if signer != nil {
		fmt.Fprintf(stdout, ", signed: %s", release.SigName)
	}
	fmt.Fprintf(stdout, "\ncheck it: cd %s && sha256sum -c %s", o.Dir, release.SumsName)
	if signer != nil {
		fmt.Fprintf(stdout, " && ssh-keygen -Y verify -f allowed_signers -I SIGNER -n %s -s %s < %s", release.Namespace, release.SigName, release.SumsName)
	}
	fmt.Fprintln(stdout, " (docs/release.md)")
	return nil
}

// check runs `version` of a binary of this platform. For the others it reads Go's build
// information (what go version -m prints: with -trimpath, Go records no -ldflags there), which
// must name the program and the platform, and looks for the stamped version and commit in the
// binary itself.
func check(ctx context.Context, o release.Options, a release.Artifact, stdout io.Writer) error {
	path := filepath.Join(o.Dir, a.File)
	if a.Platform == release.HostPlatform() {
		out, err := exec.CommandContext(ctx, path, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), a.Program+" "+o.Version+" ") {
			return fmt.Errorf("%s version: %v: %s", a.File, err, out)
		}
		fmt.Fprintf(stdout, "%s version: %s", a.File, out)
		return nil
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", a.File, err)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if bi.Path != "github.com/element-hq/ess-airgap/cmd/"+a.Program || set["GOOS"]+"/"+set["GOARCH"] != a.Platform || set["CGO_ENABLED"] != "0" {
		return fmt.Errorf("%s: go version -m says %s for %s/%s (CGO_ENABLED=%s)", a.File, bi.Path, set["GOOS"], set["GOARCH"], set["CGO_ENABLED"])
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, want := range []string{o.Version, o.Commit, o.Date.Format(time.RFC3339)} {
		if !bytes.Contains(data, []byte(want)) {
			return fmt.Errorf("%s: %q is not stamped in it", a.File, want)
		}
	}
	fmt.Fprintf(stdout, "%s: %s, %s, static, version %s and commit stamped (go version -m, and the binary)\n", a.File, bi.GoVersion, a.Platform, o.Version)
	return nil
}

func git(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v (give -version, -commit and -source-date-epoch outside a git checkout)", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
