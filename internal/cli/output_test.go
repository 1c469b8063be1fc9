package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
)

// TestSumCheckCommand: the printed check works from any directory: the checksum file names
// the bundle without its directory, so the command goes there first.
func TestSumCheckCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my bundles")
	os.MkdirAll(dir, 0o755)
	bundle := filepath.Join(dir, "x.tar.zst")
	os.WriteFile(bundle, []byte("data"), 0o644)
	sum, _ := exec.Command("sha256sum", bundle).Output()
	os.WriteFile(bundle+".sha256", []byte(strings.Replace(string(sum), bundle, "x.tar.zst", 1)), 0o644)
	cmdline := sumCheckCommand(bundle)
	if !strings.HasPrefix(cmdline, "cd '"+dir+"' && sha256sum -c x.tar.zst.sha256") {
		t.Errorf("command %q", cmdline)
	}
	sh := exec.Command("sh", "-c", cmdline)
	sh.Dir = "/"
	if out, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(out), "x.tar.zst: OK") {
		t.Errorf("%s from /: %v\n%s", cmdline, err, out)
	}
	if got := sumCheckCommand("x.tar.zst"); got != "sha256sum -c x.tar.zst.sha256" {
		t.Errorf("in the current directory: %q", got)
	}
}

func TestDeltaNeeds(t *testing.T) {
	if got := deltaNeeds(&archive.Base{Kind: "inventory", Name: "inventory.json"}); strings.Contains(got, "push") || !strings.Contains(got, "inventory.json recorded") {
		t.Errorf("inventory: %q", got)
	}
	if got := deltaNeeds(&archive.Base{Kind: "bundle", Name: "ess-24.08.tar.zst"}); got != "push ess-24.08.tar.zst to the destination first" {
		t.Errorf("bundle: %q", got)
	}
}
