package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tool is an external program a path drives.
type tool struct {
	path    string
	how     string // how it was found, for the report
	version string
	err     error // set when it could not be found or installed
}

// toolSpecs: how to get each tool when it is missing.
var toolSpecs = []struct {
	name    string
	install []string // a go install or apt-get command
	version []string
}{
	{"crane", []string{"go", "install", "github.com/google/go-containerregistry/cmd/crane@v0.22.1"}, []string{"version"}},
	{"regctl", []string{"go", "install", "github.com/regclient/regclient/cmd/regctl@v0.11.7"}, []string{"version", "--format", "{{.VCSTag}}"}},
	{"skopeo", []string{"apt-get", "install", "-y", "skopeo"}, []string{"--version"}},
	{"zstd", nil, []string{"--version"}},
	{"tar", nil, []string{"--version"}},
	{"sync", nil, []string{"--version"}},
}

// findTools looks each tool up on PATH, then in GOPATH/bin, then installs it if allowed.
// A missing tool is not fatal: the paths that need it are reported as failed.
func (b *bench) findTools(ctx context.Context) {
	b.tools = map[string]tool{}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute) // the installs have 10 minutes each
	defer cancel()
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 30*time.Second) }
	gobin := ""
	gctx, gcancel := short()
	out, err := exec.CommandContext(gctx, "go", "env", "GOPATH").Output()
	gcancel()
	if err == nil {
		gobin = filepath.Join(strings.TrimSpace(strings.SplitN(string(out), string(os.PathListSeparator), 2)[0]), "bin")
	}
	lookup := func(n string) (string, string) {
		if p, err := exec.LookPath(n); err == nil {
			return p, "on PATH"
		}
		if gobin != "" {
			p := filepath.Join(gobin, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, "in GOPATH/bin"
			}
		}
		return "", ""
	}
	for _, s := range toolSpecs {
		t := tool{}
		t.path, t.how = lookup(s.name)
		if t.path == "" && s.install != nil && b.cfg.install {
			if s.install[0] == "apt-get" && os.Geteuid() != 0 {
				t.err = fmt.Errorf("%s is missing (apt-get install -y %s needs root)", s.name, s.name)
			} else {
				b.logf("%s is missing: %s", s.name, strings.Join(s.install, " "))
				ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				cmd := exec.CommandContext(ictx, s.install[0], s.install[1:]...)
				if s.install[0] == "apt-get" {
					cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
				}
				out, err := cmd.CombinedOutput()
				cancel()
				if err != nil {
					t.err = fmt.Errorf("%s: %v: %s", strings.Join(s.install, " "), err, tail(string(out), 400))
				} else if t.path, _ = lookup(s.name); t.path != "" {
					t.how = "installed with " + strings.Join(s.install, " ")
				}
			}
		}
		if t.path == "" && t.err == nil {
			t.err = fmt.Errorf("%s is not installed", s.name)
		}
		if t.path != "" {
			vctx, vcancel := short()
			out, _ := exec.CommandContext(vctx, t.path, s.version...).CombinedOutput()
			vcancel()
			t.version = firstLine(strings.TrimSpace(string(out)))
			b.logf("%s: %s (%s) %s", s.name, t.path, t.how, t.version)
		} else {
			b.logf("%s: %v", s.name, t.err)
		}
		b.tools[s.name] = t
	}
}

// need returns the paths of the named tools, or the first one's error.
func (b *bench) need(names ...string) ([]string, error) {
	var ps []string
	for _, n := range names {
		t := b.tools[n]
		if t.err != nil {
			return nil, t.err
		}
		ps = append(ps, t.path)
	}
	return ps, nil
}

// proc is one subprocess.
type proc struct {
	argv []string
	dir  string
	env  []string // added to the environment
	// killWhen, when set, is polled every 2 ms: once it holds, the process group is killed
	// with SIGKILL, and that end is not an error.
	killWhen func() bool
}

// pipeline runs script with bash -o pipefail (sh when there is no bash), with args as $1...:
// a pipe fails when any of its commands fails, not only the last.
func pipeline(script string, args ...string) []string {
	if p, err := exec.LookPath("bash"); err == nil {
		return append([]string{p, "-o", "pipefail", "-c", script, "bash"}, args...)
	}
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

// findTime looks for GNU time, which measures the peak RSS of every subprocess (see exec).
func (b *bench) findTime(ctx context.Context) {
	p, err := exec.LookPath("time")
	if err != nil {
		p = "/usr/bin/time"
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(vctx, p, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "GNU") {
		b.logf("GNU time not found (Debian package time): peak RSS falls back to wait4's ru_maxrss, which includes the bench process's own peak")
		return
	}
	b.rssDir = filepath.Join(b.root, "rss")
	if err := os.MkdirAll(b.rssDir, 0o755); err != nil {
		return
	}
	b.timeBin = p
	b.timeVersion = firstLine(strings.TrimSpace(string(out)))
	if strings.Contains(b.timeVersion, "UNKNOWN") { // Debian's 1.9 says "time (GNU Time) UNKNOWN"
		b.timeVersion = "GNU time"
	}
	b.logf("time: %s %s (measures peak RSS)", p, b.timeVersion)
}

// usage is what a subprocess used: its peak RSS, and its CPU time (user and system, of it and
// of the children it waited for: a pipeline's every command).
type usage struct {
	rssKiB int64
	cpu    time.Duration
}

// exec runs p under the timeout, in its own process group (killed whole on timeout or
// interrupt), and returns its peak RSS in KiB and its CPU time.
//
// The RSS is ru_maxrss of the rusage wait4 returns for the process, which on Linux covers the
// process and every descendant it waited for, as a maximum, not a sum: for `bash -c 'a | b'`
// it is the RSS of the biggest of bash, a and b. But Linux also folds into it the high-water
// RSS of the memory the process had before its exec: a copy of its parent's. Measured straight
// from this process (which holds the registries), even /bin/true would show this process's
// peak. So p runs under GNU time (`time -f '%M %U %S' -o FILE`), a small C parent that forks it
// and reports the ru_maxrss of that child alone, with its user and system time.
func (b *bench) exec(ctx context.Context, p proc) (u usage, err error) {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	argv := p.argv
	rssFile := ""
	if b.timeBin != "" {
		rssFile = filepath.Join(b.rssDir, fmt.Sprint(b.seq.Add(1)))
		argv = append([]string{b.timeBin, "-f", "%M %U %S", "-o", rssFile, "--"}, p.argv...)
	}
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Dir = p.dir
	cmd.Env = append(append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"), p.env...)
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if b.cfg.keep { // the whole output, for debugging, in ROOT/logs
		logDir := filepath.Join(b.root, "logs")
		os.MkdirAll(logDir, 0o755)
		if f, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%04d-%s.log", b.seq.Add(1), filepath.Base(p.argv[0])))); err == nil {
			defer f.Close()
			fmt.Fprintf(f, "$ %s\n", strings.Join(p.argv, " "))
			out.tee = f
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Start()
	if err == nil && p.killWhen != nil {
		err = waitOrKill(cmd, p.killWhen)
	} else if err == nil {
		err = cmd.Wait()
	}
	if cmd.ProcessState != nil { // GNU time's own CPU is a few milliseconds
		u.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if rssFile != "" {
		// GNU time writes "Command exited with non-zero status N" first on a failure.
		data, _ := os.ReadFile(rssFile)
		os.Remove(rssFile)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		var user, sys float64
		if n, _ := fmt.Sscan(lines[len(lines)-1], &u.rssKiB, &user, &sys); n == 3 {
			u.cpu = time.Duration((user + sys) * float64(time.Second))
		}
	} else if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.rssKiB = ru.Maxrss
		}
	}
	if err != nil {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", b.cfg.timeout)
		}
		return u, fmt.Errorf("%s: %v: %s", showArgv(p.argv), err, tail(out.String(), 600))
	}
	return u, nil
}

// waitOrKill waits for cmd, killing its process group once kill holds; it returns nil when
// the process ended that way.
func waitOrKill(cmd *exec.Cmd, kill func() bool) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("ended before the point where it was to be killed")
			}
			return err
		case <-tick.C:
			if kill() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				return nil
			}
		}
	}
}

// showArgv shortens a command line for messages: the program's base name and the first few
// arguments.
func showArgv(argv []string) string {
	parts := []string{filepath.Base(argv[0])}
	for i, a := range argv[1:] {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(argv)-1-i))
			break
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	tee io.Writer // also gets everything, when set
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tee != nil {
		t.tee.Write(p)
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// phase measures one phase: the wall time from start to done, the largest peak RSS of the
// subprocesses it ran, the CPU time they used, and the CPU time of this process meanwhile (the
// registries, and the floors' clients).
type phase struct {
	b     *bench
	start time.Time
	self  time.Duration // this process's CPU time at the start
	mu    sync.Mutex
	rss   int64
	cpu   time.Duration
}

func (b *bench) phase() *phase { return &phase{b: b, start: time.Now(), self: selfCPU()} }

func (ph *phase) note(u usage) {
	ph.mu.Lock()
	ph.rss = max(ph.rss, u.rssKiB)
	ph.cpu += u.cpu
	ph.mu.Unlock()
}

func (ph *phase) run(ctx context.Context, p proc) error {
	u, err := ph.b.exec(ctx, p)
	ph.note(u)
	return err
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runAll runs ps, parallel at a time, in order; after the first failure it starts no more
// and returns that failure once the running ones end.
func (ph *phase) runAll(ctx context.Context, ps []proc, parallel int) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, parallel)
	)
	for _, p := range ps {
		sem <- struct{}{}
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func(p proc) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ph.run(ctx, p); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// done ends the phase.
func (ph *phase) done(err error) result {
	r := newResult()
	r.wall = time.Since(ph.start)
	r.rss = ph.rss
	r.err = err
	r.cpu, r.selfCPU = ph.cpu, selfCPU()-ph.self
	return r
}

// inProcess ends a phase that ran in this process (a floor): its CPU is this process's.
func (ph *phase) inProcess(err error) result {
	r := ph.done(err)
	r.cpu = -1
	return r
}

// diskUsage is the space allocated to the files under dirs (st_blocks, each inode once;
// symbolic links are not followed). Files that vanish during the walk are skipped.
func diskUsage(dirs ...string) int64 {
	var total int64
	seen := map[uint64]bool{}
	for _, d := range dirs {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
				total += st.Blocks * 512
			} else {
				total += info.Size()
			}
			return nil
		})
	}
	return total
}

// sampleDisk samples diskUsage(dirs) every 200 ms until the returned function is called,
// which takes a last sample and returns the peak.
func sampleDisk(dirs ...string) (stop func() int64) {
	var (
		mu   sync.Mutex
		peak int64
		quit = make(chan struct{})
		done = make(chan struct{})
	)
	sample := func() {
		u := diskUsage(dirs...)
		mu.Lock()
		peak = max(peak, u)
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-done
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}
