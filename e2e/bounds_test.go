package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBounded runs the built program with a 10 s deadline (killed past it) and returns what it
// printed and its peak resident memory: issue 19's bound on every hostile input is 256 MiB
// and 10 s.
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
	cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after 10 s", prog, strings.Join(args, " "))
	}
	rss := int64(0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10 // KiB on Linux
	}
	return result{args: append([]string{prog}, args...), code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}, rss
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
