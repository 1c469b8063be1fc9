package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// runBounded runs the built program with a 10 s deadline (killed past it) and returns what it
// printed and its peak resident memory: issue 19's bound on every hostile input is 256 MiB
// and 10 s. The peak is the process's own VmHWM, read every 2 ms while it runs (rusage's
// maxrss would count this test process too: Go starts commands with vfork); a spike in its
// last 2 ms could be missed, but growing past 256 MiB takes longer than that.
func runBounded(t *testing.T, prog string, args ...string) (result, int64) {
	t.Helper()
	path, err := binaryPath(prog)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var peak int64
	for tick := time.NewTicker(2 * time.Millisecond); ; {
		if hwm, ok := readHWM(cmd.Process.Pid); ok {
			peak = max(peak, hwm)
		}
		select {
		case <-tick.C:
			continue
		case <-done:
			tick.Stop()
		}
		break
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after 10 s", prog, strings.Join(args, " "))
	}
	return result{args: append([]string{prog}, args...), code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}, peak
}

// readHWM is the peak resident memory of a running process (Linux: VmHWM in
// /proc/PID/status); false once it has exited.
func readHWM(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return kib << 10, true
		}
	}
	return 0, false
}

// aliasBomb is YAML under key whose 9 anchors are each 9 aliases of the one before: 9^8 = 43
// million nodes once expanded, some 400 bytes as written.
func aliasBomb(key, leaf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n  l0: &l0 [%s]\n", key, strings.TrimSuffix(strings.Repeat(leaf+", ", 9), ", "))
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	return b.String()
}

// TestAliasBombs: an image list, or a chart's values.yaml, whose YAML aliases nest 8 deep
// (issue 19: 393 bytes of values.yaml ran bundle create --chart --dry-run past 90 s and GBs)
// is refused within 10 s and 256 MiB, the error naming the file.
func TestAliasBombs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := filepath.Join(dir, "bomb.yml")
	if err := os.WriteFile(list, []byte(aliasBomb("images_digests", "{a: {image_repository_server: r, image_repository_path: p, image_tag: t}}")), 0o644); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(dir, "mini-stack")
	if err := os.CopyFS(chart, os.DirFS("../internal/fixture/testdata/mini-stack")); err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chart, "values.yaml"), append(values, aliasBomb("bomb", "lol")...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--images", list}, list},
		{[]string{"--chart", chart}, "mini-stack/values.yaml"},
	} {
		r, rss := runBounded(t, "bundle", append([]string{"create", "--dry-run", "--output", filepath.Join(dir, "x.tar.zst")}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, "aliases") {
			t.Errorf("%v: exit %d, want 1 and an error naming %s:\n%s", r.args, r.code, tc.says, r.stderr)
		}
		if rss > 256<<20 {
			t.Errorf("%v: peak RSS %d MiB", r.args, rss>>20)
		}
		t.Logf("bundle create --dry-run %s: exit %d, peak RSS %d MiB", tc.args[0], r.code, rss>>20)
	}
}

// TestServeHtpasswdNeedsTLS: unbundle serve --htpasswd over plain HTTP on a network address
// is refused (exit 2, saying how to proceed) before anything is opened; on loopback, or with
// --plain-http-auth, it goes on (here to the missing bundle).
func TestServeHtpasswdNeedsTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("ops:$2y$05$abcdefghijklmnopqrstuu5wOxk7cx0pMy8bnGZb3mJfEw9b6gVQ6\n"), 0o600)
	missing := filepath.Join(dir, "missing.tar.zst")
	for _, tc := range []struct {
		args    []string
		refused bool
	}{
		{[]string{"--addr", "0.0.0.0:0"}, true},
		{[]string{"--addr", ":0"}, true},
		{[]string{"--addr", "127.0.0.1:0"}, false},
		{[]string{"--addr", ":0", "--plain-http-auth"}, false},
	} {
		r, _ := runBounded(t, "unbundle", append(append([]string{"serve", "--htpasswd", htpasswd}, tc.args...), missing)...)
		refused := r.code == 2 && strings.Contains(r.stderr, "--plain-http-auth") && strings.Contains(r.stderr, "--tls-cert")
		if refused != tc.refused || r.code == 0 {
			t.Errorf("%v: exit %d, refused %v, want %v:\n%s", r.args, r.code, refused, tc.refused, r.stderr)
		}
	}
}

// TestHostileBundles: the commands on bundles made byte for byte by another writer (issue 19):
// an index listing one child 60 times over 4 levels (13 million manifests as a tree) is
// pushed and served within 10 s and 256 MiB; a manifest-type blob of 32 MiB that compresses
// to nothing is refused by push and serve (exit 3, naming the image and the blob) within the
// same bounds.
func TestHostileBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fan := testbundle.FanOut(60, 4)
	fanOut, err := testbundle.Write(dir, "fan", []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "fan", Tag: "1", Root: fan[0]}}, fan)
	if err != nil {
		t.Fatal(err)
	}
	one := testbundle.FanOut(1, 0)
	config, layer := one[1], one[2]
	cd, ld := config.Descriptor(), layer.Descriptor()
	raw := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	bomb := testbundle.Blob{Data: append(raw, bytes.Repeat([]byte(" "), 32<<20)...), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	bombed, err := testbundle.Write(dir, "bomb", []testbundle.Image{{Component: "c", Container: "x", Server: "example.org", Path: "bomb", Tag: "1", Root: bomb}},
		[]testbundle.Blob{bomb, config, layer})
	if err != nil {
		t.Fatal(err)
	}
	reg := testregistry.StartT(t)

	r, rss := runBounded(t, "unbundle", "push", "--registry", reg.Host, "--configmap", filepath.Join(dir, "cm.yaml"), fanOut)
	if r.code != 0 || rss > 256<<20 {
		t.Errorf("push of a fan-out index: exit %d, peak RSS %d MiB:\n%s", r.code, rss>>20, r.stderr)
	}
	t.Logf("push of a fan-out index: peak RSS %d MiB", rss>>20)
	for _, args := range [][]string{{"push", "--registry", reg.Host, bombed}, {"serve", "--addr", "127.0.0.1:0", bombed}} {
		r, rss := runBounded(t, "unbundle", args...)
		if r.code != 3 || !strings.Contains(r.stderr, "c.x") || !strings.Contains(r.stderr, bomb.Digest()) || rss > 256<<20 {
			t.Errorf("%s of a 32 MiB manifest: exit %d (want 3), peak RSS %d MiB:\n%s", args[0], r.code, rss>>20, r.stderr)
		}
		t.Logf("%s of a 32 MiB manifest: exit %d, peak RSS %d MiB", args[0], r.code, rss>>20)
	}

	start := time.Now()
	s := startServe(t, fanOut)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("serve of a fan-out index took %s to listen", d)
	}
	if hwm, _ := readHWM(s.cmd.Process.Pid); hwm > 256<<20 {
		t.Errorf("serve of a fan-out index: peak RSS %d MiB", hwm>>20)
	} else {
		t.Logf("serve of a fan-out index: listening after %s, peak RSS %d MiB", time.Since(start).Round(time.Millisecond), hwm>>20)
	}
	resp, err := http.Get("http://" + s.host + "/v2/fan/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, fan[0].Data) {
		t.Errorf("GET the fan-out index: %d", resp.StatusCode)
	}
}
