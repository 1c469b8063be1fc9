package release

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

func TestFileName(t *testing.T) {
	for _, c := range []struct{ prog, platform, want string }{
		{"bundle", "linux/amd64", "bundle-linux-amd64"},
		{"unbundle", "darwin/arm64", "unbundle-darwin-arm64"},
		{"unbundle", "windows/amd64", "unbundle-windows-amd64.exe"},
	} {
		if got := FileName(c.prog, c.platform); got != c.want {
			t.Errorf("FileName(%s, %s) = %s, want %s", c.prog, c.platform, got, c.want)
		}
	}
}

// TestLDFlags: stripped, no build id, the version, commit and date (in UTC, whatever zone it
// was given in) stamped into internal/version.
func TestLDFlags(t *testing.T) {
	o := Options{Version: "v1.2.3", Commit: "abc", Date: time.Date(2026, 1, 2, 5, 4, 5, 0, time.FixedZone("x", 2*3600))}
	want := "-s -w -buildid= -X github.com/element-hq/ess-airgap/internal/version.Version=v1.2.3 " +
		"-X github.com/element-hq/ess-airgap/internal/version.Commit=abc " +
		"-X github.com/element-hq/ess-airgap/internal/version.Date=2026-01-02T03:04:05Z"
	if got := o.LDFlags(); got != want {
		t.Errorf("LDFlags:\n%s\nwant:\n%s", got, want)
	}
}

// TestBuildRefuses: no version or date, a platform without an architecture, and a go command
// that fails are errors naming what is wrong; the output directory is emptied first.
func TestBuildRefuses(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "dist")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "stale"), []byte("x"), 0o644)
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no version", Options{Dir: dir, Date: date}, "a version and a build date"},
		{"no date", Options{Dir: dir, Version: "v1"}, "a version and a build date"},
		{"no architecture", Options{Dir: dir, Version: "v1", Date: date, Platforms: []string{"linux/"}}, `platform "linux/": want OS/ARCH`},
		{"go fails", Options{Dir: dir, Version: "v1", Date: date, Platforms: []string{"linux/arm64"}, Go: "false"}, "go build bundle for linux/arm64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Build(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "stale")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stale file survived a build: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, Options{Dir: dir, Version: "v1", Date: date, Platforms: []string{HostPlatform()}, Source: "../.."}); err == nil {
		t.Error("a cancelled build succeeded")
	}
}

// TestWriteSums: one "HEX  NAME" line per regular file, sorted, leaving out directories, the
// sums and their signature; written to SHA256SUMS, and the same bytes returned.
func TestWriteSums(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"b": "bee\n", "a": "", SumsName: "old", SigName: "old", "sub/c": "c"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	got, err := WriteSums(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n" +
		"c150e5a8a604acebd8d15bd7bf8ea96b2874bdcc91dee6319977d353251283b0  b\n" // sha256sum of "bee\n"
	if string(got) != want {
		t.Errorf("sums:\n%s\nwant:\n%s", got, want)
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, SumsName))
	if !bytes.Equal(onDisk, got) {
		t.Error("SHA256SUMS on disk is not what WriteSums returned")
	}
	if out, err := command(dir, nil, "sha256sum", "--strict", "-c", SumsName); err != nil || strings.Count(out, ": OK") != 2 {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	if _, err := WriteSums(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// TestSign: the signature is of SHA256SUMS, in the release namespace, by the key, and the same
// bytes each time (ed25519 is deterministic); without SHA256SUMS there is nothing to sign.
func TestSign(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	if err := Sign(dir, signer); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no sums: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("file"), 0o644)
	sums, err := WriteSums(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(dir, signer); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, SigName))
	if err := Sign(dir, signer); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, SigName))
	if !bytes.Equal(first, second) {
		t.Error("two signatures of the same sums differ")
	}
	pub, err := sshsig.Verify(first, Namespace, bytes.NewReader(sums))
	if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Errorf("verify: %v", err)
	}
	if _, err := sshsig.Verify(first, "ess-airgap-bundle", bytes.NewReader(sums)); err == nil {
		t.Error("verified in another namespace")
	}
}

// TestSPDXOfTestBinary: the SBOM of a Go binary (this test's own) names it by sha256, the main
// module, the standard library and each module with a package URL; a file that is not a Go
// binary is refused.
func TestSPDXOfTestBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	data, err := SPDX(exe, "v0.0.1", created)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	sum, _ := fileSum(exe)
	if doc.CreationInfo.Created != "2026-02-03T03:05:06Z" || doc.Packages[0].Checksums[0].Value != sum ||
		!strings.HasSuffix(doc.DocumentNamespace, "-"+sum) || doc.Packages[0].VersionInfo != "v0.0.1" {
		t.Errorf("document: %+v", doc.Packages[0])
	}
	ids := map[string]bool{}
	for i, p := range doc.Packages {
		if ids[p.SPDXID] {
			t.Errorf("SPDXID %s twice", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if i > 0 && (len(p.ExternalRefs) != 1 || !strings.HasPrefix(p.ExternalRefs[0].Locator, "pkg:golang/")) {
			t.Errorf("package %s without a purl", p.Name)
		}
	}
	if !ids["SPDXRef-Main"] || !ids["SPDXRef-Stdlib"] {
		t.Errorf("no main module or stdlib: %v", ids)
	}
	for _, r := range doc.Relationships {
		if !ids[r.Related] {
			t.Errorf("relationship to %s, which is not a package", r.Related)
		}
	}
	notGo := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755)
	if _, err := SPDX(notGo, "v1", created); err == nil {
		t.Error("an SBOM of a shell script")
	}
}

func TestPURL(t *testing.T) {
	for _, c := range []struct{ path, version, want string }{
		{"github.com/a/b", "v1.2.3", "pkg:golang/github.com/a/b@v1.2.3"},
		{"github.com/docker/docker", "v29.7.2+incompatible", "pkg:golang/github.com/docker/docker@v29.7.2%2Bincompatible"},
		{"stdlib", "go1.26.8", "pkg:golang/stdlib@go1.26.8"},
		{"example.org/local", "", "pkg:golang/example.org/local"},
	} {
		if got := purl(c.path, c.version); got != c.want {
			t.Errorf("purl(%s, %s) = %s, want %s", c.path, c.version, got, c.want)
		}
	}
}
