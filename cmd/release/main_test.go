package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/release"
	"golang.org/x/crypto/ssh"
)

// TestRunRefuses: bad flags, a date that is not a number, and a signing key that will not do
// fail before anything is built (dist is not touched).
func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	os.MkdirAll(dist, 0o755)
	os.WriteFile(filepath.Join(dist, "kept"), nil, 0o644)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	block, _ := ssh.MarshalPrivateKey(ecKey, "")
	ecPath := filepath.Join(dir, "id_ecdsa")
	os.WriteFile(ecPath, pem.EncodeToMemory(block), 0o600)
	fixed := []string{"-dist", dist, "-version", "v1", "-commit", "abc"}
	t.Setenv("SIGN_KEY_PASSPHRASE", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "bogus"},
		{"date not a number", append(fixed, "-source-date-epoch", "yesterday"), `SOURCE_DATE_EPOCH "yesterday": not a number of seconds`},
		{"missing key", append(fixed, "-source-date-epoch", "1", "-sign-key", filepath.Join(dir, "none")), "SIGN_KEY: "},
		{"not ed25519", append(fixed, "-source-date-epoch", "1", "-sign-key", ecPath), "only ed25519 keys sign bundles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dist, "kept")); err != nil {
		t.Errorf("dist was emptied by a run that failed early: %v", err)
	}
}

// TestCheck: a binary of this platform must say its version when run; one of another
// platform must be a Go program of this module's command for that platform, static, with the
// version, commit and date stamped in it.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	o := release.Options{Dir: dir, Version: "v9.9.9", Commit: "c0ffee", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	script := func(name, out string) release.Artifact {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755)
		return release.Artifact{Program: "bundle", Platform: release.HostPlatform(), File: name}
	}
	var stdout bytes.Buffer
	if err := check(context.Background(), o, script("good", "bundle v9.9.9 (commit c0ffee)"), &stdout); err != nil || !strings.Contains(stdout.String(), "good version: bundle v9.9.9") {
		t.Errorf("a binary saying its version: %v, %q", err, stdout.String())
	}
	if err := check(context.Background(), o, script("old", "bundle v1.0.0 (commit 123)"), io.Discard); err == nil || !strings.Contains(err.Error(), "old version") {
		t.Errorf("a binary of another version: %v", err)
	}

	foreign := "linux/arm64"
	if release.HostPlatform() == foreign {
		foreign = "linux/amd64"
	}
	os.WriteFile(filepath.Join(dir, "notgo"), []byte("#!/bin/sh\n"), 0o755)
	if err := check(context.Background(), o, release.Artifact{Program: "bundle", Platform: foreign, File: "notgo"}, io.Discard); err == nil || !strings.Contains(err.Error(), "notgo") {
		t.Errorf("not a Go binary: %v", err)
	}
	exe, err := os.Executable() // a Go binary, but this test's, not cmd/bundle's
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(exe)
	os.WriteFile(filepath.Join(dir, "other"), data, 0o755)
	if err := check(context.Background(), o, release.Artifact{Program: "bundle", Platform: foreign, File: "other"}, io.Discard); err == nil || !strings.Contains(err.Error(), "go version -m says") {
		t.Errorf("another Go program: %v", err)
	}
}
