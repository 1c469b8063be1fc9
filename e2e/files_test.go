package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/report"
)

// TestCarryFiles: bundle create --with-unbundle and --file carry the unbundle binary of this
// platform and a site's file as plain entries: listed (text and --json), extracted by zstd and
// tar with no tool of ours (the binary runs), and by unbundle extract, verified, never over an
// existing file without --force; a name that is not carried, or is a path, is refused; a
// damaged file entry writes nothing. --with-unbundle finds a release's unbundle-OS-ARCH beside
// the bundle binary, and refuses a file that is not unbundle for the platform named.
func TestCarryFiles(t *testing.T) {
	t.Parallel()
	w := setup(t)
	if runtime.GOOS+"/"+runtime.GOARCH != "linux/amd64" {
		t.Fatalf("this test carries the linux/amd64 unbundle: run it on linux/amd64")
	}
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	os.WriteFile(values, []byte("serverName: ess.example.org\n"), 0o600)
	bundle := filepath.Join(dir, "ess.tar.zst")
	comp := w.images[0].Component
	must(t, runCmd("bundle", nil, "create", "--images", w.list, "--include", comp, "--output", bundle,
		"--with-unbundle", "linux/amd64", "--file", values+"=site-values.yaml"))

	r := must(t, runCmd("unbundle", nil, "list", bundle))
	if !strings.Contains(r.stdout, "file unbundle-linux-amd64: ") || !strings.Contains(r.stdout, "file site-values.yaml: ") {
		t.Errorf("list does not show the files:\n%s", r.stdout)
	}
	var lr report.List
	if err := report.Decode([]byte(must(t, runCmd("unbundle", nil, "list", "--json", bundle)).stdout), &lr); err != nil || len(lr.Files) != 2 {
		t.Fatalf("list --json: %v %+v", err, lr.Files)
	}

	// no tool of ours: zstd and tar, then the binary runs
	plain := t.TempDir()
	if out, err := exec.Command("sh", "-c", `zstd -dc "$1" | tar -x -C "$2" unbundle-linux-amd64 site-values.yaml`, "sh", bundle, plain).CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | tar -x: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(plain, "unbundle-linux-amd64"), "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "unbundle ") {
		t.Errorf("the extracted unbundle: %v\n%s", err, out)
	}
	ours, _ := binaryPath("unbundle")
	want, _ := os.ReadFile(ours)
	if got, _ := os.ReadFile(filepath.Join(plain, "unbundle-linux-amd64")); !bytes.Equal(got, want) {
		t.Error("the unbundle carried is not the one beside bundle")
	}

	out := t.TempDir()
	must(t, runCmd("unbundle", nil, "extract", bundle, "site-values.yaml", "unbundle-linux-amd64", "--dir", out))
	if got, _ := os.ReadFile(filepath.Join(out, "site-values.yaml")); string(got) != "serverName: ess.example.org\n" {
		t.Errorf("extracted values: %q", got)
	}
	if st, err := os.Stat(filepath.Join(out, "unbundle-linux-amd64")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("extracted binary: %v %v", err, st)
	}
	os.WriteFile(filepath.Join(out, "site-values.yaml"), []byte("mine"), 0o644)
	if r := runCmd("unbundle", nil, "extract", bundle, "site-values.yaml", "--dir", out); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--force") {
		t.Errorf("extract over an existing file: exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "site-values.yaml")); string(got) != "mine" {
		t.Error("an existing file was replaced without --force")
	}
	must(t, runCmd("unbundle", nil, "extract", "--force", bundle, "site-values.yaml", "--dir", out))
	if got, _ := os.ReadFile(filepath.Join(out, "site-values.yaml")); string(got) != "serverName: ess.example.org\n" {
		t.Error("--force did not replace the file")
	}
	for _, name := range []string{"../etc/passwd", "nothing.txt", "index.json"} {
		if r := runCmd("unbundle", nil, "extract", bundle, name, "--dir", out); r.code != cli.ExitUsage {
			t.Errorf("extract %s: exit %d\n%s", name, r.code, r.stderr)
		}
	}

	// a damaged file entry: extract fails and writes nothing
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	off, length, _ := b.EntryRange("unbundle-linux-amd64")
	b.Close()
	data, _ := os.ReadFile(bundle)
	data[off+length/2] ^= 0xff
	damaged := filepath.Join(dir, "damaged.tar.zst")
	os.WriteFile(damaged, data, 0o644)
	empty := t.TempDir()
	if r := runCmd("unbundle", nil, "extract", damaged, "unbundle-linux-amd64", "--dir", empty); r.code != cli.ExitVerify {
		t.Errorf("extract from a damaged entry: exit %d\n%s", r.code, r.stderr)
	}
	if left, _ := os.ReadDir(empty); len(left) != 0 {
		t.Errorf("a failed extract left %d files", len(left))
	}

	// a release directory: unbundle-OS-ARCH beside bundle; one that is not what it is named
	rel := t.TempDir()
	self, _ := binaryPath("bundle")
	for from, to := range map[string]string{self: "bundle", ours: "unbundle-linux-amd64"} {
		copyFile(t, from, filepath.Join(rel, to))
	}
	copyFile(t, ours, filepath.Join(rel, "unbundle-linux-arm64")) // amd64 under an arm64 name
	relBundle := filepath.Join(rel, "bundle")
	args := []string{"create", "--images", w.list, "--include", comp, "--output", filepath.Join(dir, "rel.tar.zst")}
	if r := runExe(relBundle, append(args, "--with-unbundle", "linux/amd64")...); r.code != 0 {
		t.Errorf("--with-unbundle from a release directory: exit %d\n%s", r.code, r.stderr)
	}
	if r := runExe(relBundle, append(args, "--with-unbundle", "linux/amd64,linux/arm64")...); r.code == 0 || !strings.Contains(r.stderr, "not linux/arm64") {
		t.Errorf("an amd64 binary named unbundle-linux-arm64: exit %d\n%s", r.code, r.stderr)
	}
	if r := runExe(relBundle, append(args, "--with-unbundle", "darwin/arm64")...); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "unbundle-darwin-arm64") {
		t.Errorf("no darwin/arm64 binary: exit %d\n%s", r.code, r.stderr)
	}
	if r := runExe(relBundle, append(args, "--file", values+"=a/b")...); r.code != cli.ExitUsage {
		t.Errorf("--file with a path for a name: exit %d\n%s", r.code, r.stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runExe runs the program at path with args.
func runExe(path string, args ...string) result {
	cmd := exec.Command(path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return result{args: append([]string{path}, args...), code: code, stdout: out.String(), stderr: errb.String()}
}
