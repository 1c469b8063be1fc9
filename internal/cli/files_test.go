package cli

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestUnbundleBinary: --with-unbundle takes OS/ARCH and looks for unbundle-OS-ARCH beside the
// running program; what is not there is a usage error saying where it looked and what to do.
func TestUnbundleBinary(t *testing.T) {
	for _, p := range []string{"linux", "linux/", "/amd64", "linux/amd64/v2", `linux\amd64`, "linux amd64/x"} {
		_, err := unbundleBinary(p)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "want OS/ARCH") {
			t.Errorf("%q: %v", p, err)
		}
	}
	self, _ := os.Executable()
	_, err := unbundleBinary("plan9/386")
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no unbundle-plan9-386 beside") || !strings.Contains(err.Error(), "make release") ||
		!strings.Contains(err.Error(), filepath.Base(self)) {
		t.Errorf("plan9/386: %v", err)
	}
	_, err = unbundleBinary("windows/arm64")
	if err == nil || !strings.Contains(err.Error(), "unbundle-windows-arm64.exe") {
		t.Errorf("windows/arm64: %v", err)
	}
	_, err = unbundleBinary(runtime.GOOS + "/" + runtime.GOARCH)
	if err == nil || !strings.Contains(err.Error(), "unbundle-"+runtime.GOOS+"-"+runtime.GOARCH+" or unbundle") {
		t.Errorf("this platform: %v", err)
	}
}

// TestCheckUnbundle: the file carried must be a Go program built as unbundle for the platform
// asked: another program, and a file that is no Go program, are refused naming the file.
func TestCheckUnbundle(t *testing.T) {
	text := filepath.Join(t.TempDir(), "unbundle-linux-amd64")
	os.WriteFile(text, []byte("#!/bin/sh\necho not go\n"), 0o755)
	if err := checkUnbundle(text, "linux", "amd64"); err == nil || !strings.Contains(err.Error(), text) || !strings.Contains(err.Error(), "not a Go binary") {
		t.Errorf("a script: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	err = checkUnbundle(self, runtime.GOOS, runtime.GOARCH)
	if err == nil || !strings.Contains(err.Error(), "not unbundle") || !strings.Contains(err.Error(), "internal/cli") {
		t.Errorf("the test program: %v", err)
	}
}
