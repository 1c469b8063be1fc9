package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netns is a network namespace whose only link is a veth pair to this one, on a /30 of its
// own: from inside, the only addresses are its loopback and this side of the pair, where
// forward serves the registries a test names. No route leads anywhere else (no default route,
// no forwarding), so a command run inside reaches nothing but those registries: not Fulcio,
// Rekor, a TUF repository or any registry upstream. It needs root (ip netns, iproute2).
type netns struct {
	name, hostIP, nsIP string
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	pid := os.Getpid()
	n := &netns{name: fmt.Sprintf("essprov%d", pid)}
	a, b := (pid>>6)&255, (pid&63)*4
	n.hostIP, n.nsIP = fmt.Sprintf("10.201.%d.%d", a, b+1), fmt.Sprintf("10.201.%d.%d", a, b+2)
	hostIf, nsIf := fmt.Sprintf("ep%dh", pid), fmt.Sprintf("ep%dn", pid)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s (the offline push test needs root and iproute2)", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	ip("link", "set", nsIf, "netns", n.name)
	ip("addr", "add", n.hostIP+"/30", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("netns", "exec", n.name, "ip", "addr", "add", n.nsIP+"/30", "dev", nsIf)
	ip("netns", "exec", n.name, "ip", "link", "set", nsIf, "up")
	ip("netns", "exec", n.name, "ip", "link", "set", "lo", "up")
	routes, err := exec.Command("ip", "netns", "exec", n.name, "ip", "route").CombinedOutput()
	if err != nil || strings.Contains(string(routes), "default") || strings.Count(strings.TrimSpace(string(routes)), "\n") != 0 {
		t.Fatalf("the namespace's routes are not the one link: %v\n%s", err, routes)
	}
	return n
}

// forward serves target (a registry on this side's loopback) on the namespace's link, and
// returns the address a command inside reaches it at.
func (n *netns) forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", n.hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// run runs bundle or unbundle inside the namespace.
func (n *netns) run(prog string, args ...string) result {
	full := append([]string{prog}, args...)
	path, err := binaryPath(prog)
	if err != nil {
		return result{args: full, code: -1, stderr: err.Error()}
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, path}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return result{args: full, code: code, stdout: out.String(), stderr: errb.String()}
}
