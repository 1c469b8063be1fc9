package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDiskFull: a bundle that cannot be written (here: the output is /dev/full, which answers
// every write with ENOSPC) fails with the system's error, and leaves no partial file, no bundle
// and no checksum.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	w := setup(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "full.tar.zst")
	if err := os.Symlink("/dev/full", out+".partial"); err != nil {
		t.Fatal(err)
	}
	r := runCmd("bundle", nil, "create", "--images", w.list, "--output", out)
	if r.code == 0 || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("exit %d; want the ENOSPC error:\n%s", r.code, r.stderr)
	}
	for _, f := range []string{out, out + ".sha256", out + ".partial"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s left behind", filepath.Base(f))
		}
	}
}

// TestUnreachableRegistry: nothing listening gives a clear error within seconds, not a hang.
func TestUnreachableRegistry(t *testing.T) {
	t.Parallel()
	w := setup(t)
	start := time.Now()
	r := runCmd("unbundle", nil, "push", "--registry", "127.0.0.1:1", w.bundle)
	if r.code == 0 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("exit %d; want an error naming the registry and the refusal:\n%s", r.code, r.stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %s", d)
	}
}

// TestMalformedList: a YAML error names the file, line and column.
func TestMalformedList(t *testing.T) {
	t.Parallel()
	list := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(list, []byte("images_digests:\n  synapse:\n    synapse:\n      image_tag: \"v1\n"), 0o644)
	r := runCmd("bundle", nil, "create", "--images", list, "--output", filepath.Join(t.TempDir(), "x.tar.zst"))
	if r.code == 0 || !strings.Contains(r.stderr, "bad.yml:4:") {
		t.Fatalf("exit %d; want file:line:column:\n%s", r.code, r.stderr)
	}
}
