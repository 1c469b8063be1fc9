package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/cli"
)

// ttyRun runs unbundle at a terminal (util-linux's script gives it a pseudo-terminal), types
// what type returns once the output shows prompt, and returns the exit code and everything the
// terminal showed.
func ttyRun(t *testing.T, prompt string, typed string, args ...string) (int, string, time.Duration) {
	t.Helper()
	bin, err := binaryPath("unbundle")
	if err != nil {
		t.Fatal(err)
	}
	line := bin
	for _, a := range args {
		line += " '" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	in, _ := cmd.StdinPipe()
	outR, outW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, outW
	var mu sync.Mutex
	var shown bytes.Buffer
	sawPrompt := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := outR.Read(buf)
			mu.Lock()
			shown.Write(buf[:n])
			if strings.Contains(shown.String(), prompt) {
				once.Do(func() { close(sawPrompt) })
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatalf("script: %v", err)
	}
	select {
	case <-sawPrompt:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no %q at the terminal; it showed:\n%s", prompt, shown.String())
	}
	time.Sleep(200 * time.Millisecond) // the prompt is printed before echo is turned off
	start := time.Now()
	io.WriteString(in, typed)
	err = cmd.Wait()
	took := time.Since(start)
	outW.Close()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return code, shown.String(), took
}

// TestPasswordAtTerminal: --password-stdin at a terminal prompts, and the password typed is
// not shown; Ctrl-C at the prompt ends the command at once (exit 130).
func TestPasswordAtTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("util-linux's script is needed (a pseudo-terminal)")
	}
	t.Parallel()
	out := filepath.Join(t.TempDir(), "secret.yaml")
	const pw = "typed-s3cret-pw"
	code, shown, _ := ttyRun(t, "Password:", pw+"\r", "secret", "--registry", "reg.example:5000", "--username", "robot", "--password-stdin", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, shown)
	}
	if strings.Contains(shown, pw) {
		t.Errorf("the password was echoed:\n%q", shown)
	}
	if data, err := os.ReadFile(out); err != nil || !strings.Contains(string(data), "kubernetes.io/dockerconfigjson") {
		t.Fatalf("secret: %v\n%s", err, data)
	}

	code, shown, took := ttyRun(t, "Password:", "\x03", "secret", "--registry", "reg.example:5000", "--username", "robot", "--password-stdin", "--output", out+"2")
	if code != cli.ExitInterrupted || took > 2*time.Second {
		t.Errorf("Ctrl-C at the prompt: exit %d after %s:\n%s", code, took, shown)
	}
}

// TestPasswordStdinInterrupt: a command waiting for --password-stdin on a pipe stops on
// SIGINT within a second, exit 130.
func TestPasswordStdinInterrupt(t *testing.T) {
	t.Parallel()
	bin, err := binaryPath("unbundle")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "secret", "--registry", "reg.example", "--username", "u", "--password-stdin", "--output", filepath.Join(t.TempDir(), "s.yaml"))
	in, _ := cmd.StdinPipe() // open, never written
	defer in.Close()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signalled once it waits in read(0): before its handler is in place, a loaded machine's
	// slow start would make SIGINT the default action (a half-second sleep did, at load 20).
	waitFor(t, 30*time.Second, func() bool { return readingStdin(cmd.Process.Pid) })
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still waiting for the password 5 s after SIGINT")
	}
	if took := time.Since(start); took > time.Second || cmd.ProcessState.ExitCode() != cli.ExitInterrupted {
		t.Errorf("exit %d after %s: %s", cmd.ProcessState.ExitCode(), took, stderr.String())
	}
}

// readingStdin reports whether a thread of process pid is in the read system call on fd 0
// (/proc/PID/task/*/syscall: the call's number, then its arguments).
func readingStdin(pid int) bool {
	nr := map[string]string{"amd64": "0", "arm64": "63"}[runtime.GOARCH]
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		if fs := strings.Fields(string(b)); len(fs) > 1 && fs[0] == nr && fs[1] == "0x0" {
			return true
		}
	}
	return false
}
