// Command serve measures unbundle serve (issue 14): how fast crane and regctl pull every image
// by digest from it, against Distribution serving the same images from its filesystem store,
// and the peak RSS of each server.
//
//	go run ./bench/serve [-profile small|large] [-runs N] [-out FILE]
//
// It generates the ESS-like fixture into an upstream Distribution registry (in-process; large:
// 2 GiB of unique layers, small: 60 MiB), bundles it with bin/bundle create, pushes the bundle
// with bin/unbundle push into a Distribution registry run as a process of its own (this
// program again, with -run-registry: filesystem storage, plain HTTP on loopback), and starts
// bin/unbundle serve on the bundle. Then, every run, each tool pulls every distinct image by
// digest from each server, one image after the other, into a fresh directory: crane pull
// --format=oci, regctl image copy to an OCI layout. Both servers have the bundle's bytes in
// the page cache (the bundle and the store were just written). The table gives the median
// time, the throughput (the bundle's blob bytes over the time) and each server's peak RSS
// (VmHWM), and the ratio serve / Distribution (target: at least 1.00). Then, every run, the
// load a site gives a registry (issue 21): four crane pullers side by side, each pulling every
// image twice (into a fresh directory each time), against each server in turn (the order
// alternates between runs): the time until the last puller is done, and the server's CPU time
// meanwhile (target: serve at most 0.9x Distribution's time).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

type config struct {
	profile, out, bin, registryDir string
	size, seed                     int64
	runs                           int
}

func run(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("bench/serve", flag.ContinueOnError)
	fs.StringVar(&c.profile, "profile", "large", "fixture profile: small (60 MiB, 1 run) or large (2 GiB, 3 runs)")
	fs.IntVar(&c.runs, "runs", 0, "runs (default: 1 for small, 3 for large); the table shows medians")
	fs.StringVar(&c.out, "out", "", "also write the Markdown report to FILE")
	fs.StringVar(&c.bin, "bin", "bin", "directory holding the bundle and unbundle binaries (make build)")
	fs.Int64Var(&c.seed, "seed", 2310, "fixture seed")
	fs.Int64Var(&c.size, "size", 0, "fixture bytes of unique layers (default: the profile's)")
	fs.StringVar(&c.registryDir, "run-registry", "", "(internal) run a Distribution registry storing under DIR until SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.registryDir != "" {
		return runRegistry(ctx, c.registryDir)
	}
	switch c.profile {
	case "small":
		c.size, c.runs = or(c.size, 60<<20), int(or(int64(c.runs), 1))
	case "large":
		c.size, c.runs = or(c.size, 2<<30), int(or(int64(c.runs), 3))
	default:
		return fmt.Errorf("-profile %q: want small or large", c.profile)
	}
	b := &bench{cfg: c}
	defer b.close()
	if err := b.prepare(ctx); err != nil {
		return err
	}
	for i := 1; i <= c.runs; i++ {
		order := append([]*server(nil), b.servers...)
		if i%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, srv := range order {
			for _, tool := range []string{"crane", "regctl"} {
				d, err := b.pull(ctx, srv, tool, i)
				if err != nil {
					return fmt.Errorf("%s from %s: %w", tool, srv.name, err)
				}
				b.logf("run %d: %s from %s: %.2fs", i, tool, srv.name, d.Seconds())
				srv.times[tool] = append(srv.times[tool], d)
			}
		}
		for _, srv := range order {
			cpu0 := procCPU(srv.cmd.Process.Pid)
			d, err := b.load(ctx, srv, i)
			if err != nil {
				return fmt.Errorf("load on %s: %w", srv.name, err)
			}
			cpu := procCPU(srv.cmd.Process.Pid) - cpu0
			b.logf("run %d: load (%d pullers x %d passes) on %s: %.2fs, server CPU %.2fs", i, loadPullers, loadPasses, srv.name, d.Seconds(), cpu.Seconds())
			srv.times["load"] = append(srv.times["load"], d)
			srv.cpu = append(srv.cpu, cpu)
		}
	}
	md := b.report()
	fmt.Print(md)
	if c.out != "" {
		return os.WriteFile(c.out, []byte(md), 0o644)
	}
	return nil
}

func or(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// server is a registry process the tools pull from.
type server struct {
	name  string
	host  string
	cmd   *exec.Cmd
	times map[string][]time.Duration // by tool, and "load"
	cpu   []time.Duration            // the server's CPU time during each load
	rss   int64                      // peak, KiB
}

type bench struct {
	cfg      config
	root     string
	bundle   string
	manifest *archive.Manifest
	servers  []*server
	tools    map[string]string
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench/serve: "+format+"\n", a...)
}

// prepare makes the fixture, the bundle, the Distribution store and starts both servers.
func (b *bench) prepare(ctx context.Context) error {
	var err error
	b.tools = map[string]string{}
	for _, t := range []string{"crane", "regctl"} {
		if b.tools[t], err = lookTool(t); err != nil {
			return err
		}
	}
	bin, err := filepath.Abs(b.cfg.bin)
	if err != nil {
		return err
	}
	if b.root, err = os.MkdirTemp("", "ess-bench-serve-"); err != nil {
		return err
	}
	up, err := testregistry.Start(ctx, filepath.Join(b.root, "upstream"))
	if err != nil {
		return err
	}
	defer up.Close()
	b.logf("generating the %s fixture (%d MiB)", b.cfg.profile, b.cfg.size>>20)
	images, err := fixture.Generate(ctx, fixture.Options{Registry: up.Host, Size: b.cfg.size, Seed: b.cfg.seed})
	if err != nil {
		return err
	}
	yml, _ := digests.Marshal(images)
	list := filepath.Join(b.root, "images.yml")
	if err := os.WriteFile(list, yml, 0o644); err != nil {
		return err
	}
	b.bundle = filepath.Join(b.root, "ess.tar.zst")
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "bundle"), "create", "--images", list, "--output", b.bundle).CombinedOutput(); err != nil {
		return fmt.Errorf("bundle create: %v\n%s", err, out)
	}
	ab, err := trust.Open(b.bundle)
	if err != nil {
		return err
	}
	b.manifest = ab.Manifest()
	ab.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	dist, err := start(ctx, "distribution", `^(\S+)$`, self, "-run-registry", filepath.Join(b.root, "store"))
	if err != nil {
		return err
	}
	b.servers = append(b.servers, dist)
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "unbundle"), "push", "--registry", dist.host,
		"--configmap", filepath.Join(b.root, "cm.yaml"), b.bundle).CombinedOutput(); err != nil {
		return fmt.Errorf("unbundle push: %v\n%s", err, out)
	}
	srv, err := start(ctx, "unbundle serve", `on http://(\S+) `, filepath.Join(bin, "unbundle"), "serve", "--addr", "127.0.0.1:0", b.bundle)
	if err != nil {
		return err
	}
	b.servers = append([]*server{srv}, b.servers...)
	return nil
}

// start runs a server process and reads its address from the first line of its output.
func start(ctx context.Context, name, pattern string, argv ...string) (*server, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, times: map[string][]time.Duration{}}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start", name)
	}
	var host string
	if _, err := fmt.Sscanf(strings.TrimSpace(extract(sc.Text(), pattern)), "%s", &host); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s printed %q", name, sc.Text())
	}
	s.host = host
	go func() {
		for sc.Scan() {
		}
	}()
	return s, nil
}

// pull pulls every distinct image by digest from srv with tool, into a fresh directory.
func (b *bench) pull(ctx context.Context, srv *server, tool string, run int) (time.Duration, error) {
	dir := filepath.Join(b.root, fmt.Sprintf("pull-%d-%s-%s", run, tool, strings.ReplaceAll(srv.name, " ", "-")))
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	env := append(os.Environ(), "HOME="+home)
	if tool == "regctl" {
		if out, err := command(ctx, env, b.tools[tool], "registry", "set", "--tls", "disabled", srv.host).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%v\n%s", err, out)
		}
	}
	seen := map[string]bool{}
	start := time.Now()
	for i, im := range b.manifest.Images {
		ref := srv.host + "/" + im.Path + "@" + im.Digest
		if seen[ref] {
			continue
		}
		seen[ref] = true
		var argv []string
		if tool == "crane" {
			argv = []string{"pull", "--format=oci", ref, filepath.Join(dir, fmt.Sprint(i))}
		} else {
			argv = []string{"image", "copy", ref, fmt.Sprintf("ocidir://%s/layout:i%d", dir, i)}
		}
		if out, err := command(ctx, env, b.tools[tool], argv...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(argv, " "), err, out)
		}
	}
	return time.Since(start), nil
}

func command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	return cmd
}

// report reads the servers' peak RSS and renders the table.
func (b *bench) report() string {
	for _, s := range b.servers {
		s.rss = vmHWM(s.cmd.Process.Pid)
	}
	mib := float64(b.manifest.Totals.BlobBytes) / (1 << 20)
	var sb strings.Builder
	fmt.Fprintf(&sb, "# unbundle serve against Distribution (%s profile)\n\n", b.cfg.profile)
	fmt.Fprintf(&sb, "%d images (%d distinct), %d blobs, %.1f MiB of blobs; bundle %s; %d run(s), medians; %s, %d CPUs, load %s\n\n",
		len(b.manifest.Images), distinct(b.manifest), b.manifest.Totals.Blobs, mib, b.bundle[len(b.root)+1:], b.cfg.runs,
		runtime.Version(), runtime.NumCPU(), strings.Fields(readTrim("/proc/loadavg") + " ?")[0])
	sb.WriteString("| server | tool | time | MiB/s | server peak RSS |\n|---|---|---|---|---|\n")
	med := map[string]time.Duration{}
	for _, s := range b.servers {
		for _, tool := range []string{"crane", "regctl"} {
			d := median(s.times[tool])
			med[s.name+" "+tool] = d
			fmt.Fprintf(&sb, "| %s | %s | %.2fs | %.1f | %.0f MiB |\n", s.name, tool, d.Seconds(), mib/d.Seconds(), float64(s.rss)/1024)
		}
	}
	sb.WriteString("\n")
	for _, tool := range []string{"crane", "regctl"} {
		ratio := med["distribution "+tool].Seconds() / med["unbundle serve "+tool].Seconds()
		verdict := "met"
		if ratio < 1 {
			verdict = "NOT met"
		}
		fmt.Fprintf(&sb, "- %s: serve's throughput / Distribution's = %.2f (target >= 1.00: %s)\n", tool, ratio, verdict)
	}
	b.loadReport(&sb, mib)
	return sb.String()
}

// loadPullers pullers side by side, each pulling every image loadPasses times: the load of
// issue 21.
const loadPullers, loadPasses = 4, 2

// load runs the pullers against srv and returns the time until the last is done.
func (b *bench) load(ctx context.Context, srv *server, run int) (time.Duration, error) {
	refs := b.distinctRefs(srv.host)
	errs := make(chan error, loadPullers)
	start := time.Now()
	for p := range loadPullers {
		go func() {
			dir := filepath.Join(b.root, fmt.Sprintf("load-%d-%s-%d", run, strings.ReplaceAll(srv.name, " ", "-"), p))
			defer os.RemoveAll(dir)
			env := append(os.Environ(), "HOME="+dir)
			for pass := range loadPasses {
				out := filepath.Join(dir, fmt.Sprint(pass))
				for i, ref := range refs {
					if o, err := command(ctx, env, b.tools["crane"], "pull", "--format=oci", ref, filepath.Join(out, fmt.Sprint(i))).CombinedOutput(); err != nil {
						errs <- fmt.Errorf("crane pull %s: %v\n%s", ref, err, o)
						return
					}
				}
				os.RemoveAll(out)
			}
			errs <- nil
		}()
	}
	var first error
	for range loadPullers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return time.Since(start), first
}

// distinctRefs is every distinct image by digest on host.
func (b *bench) distinctRefs(host string) []string {
	seen := map[string]bool{}
	var refs []string
	for _, im := range b.manifest.Images {
		ref := host + "/" + im.Path + "@" + im.Digest
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	return refs
}

// loadReport renders the load's table and its ratio, pair by pair (the same run).
func (b *bench) loadReport(sb *strings.Builder, mib float64) {
	if len(b.servers) != 2 || len(b.servers[0].times["load"]) == 0 {
		return
	}
	fmt.Fprintf(sb, "\n## Under load: %d crane pullers side by side, each pulling every image %d times (issue 21)\n\n", loadPullers, loadPasses)
	sb.WriteString("| server | time per run | median | MiB/s served | server CPU s per run | server CPU s/GiB served |\n|---|---|---:|---:|---|---:|\n")
	served := mib * loadPullers * loadPasses / 1024 // GiB
	for _, s := range b.servers {
		var ts, cs []string
		var cpus []time.Duration
		for i, d := range s.times["load"] {
			ts = append(ts, fmt.Sprintf("%.2f", d.Seconds()))
			cs = append(cs, fmt.Sprintf("%.2f", s.cpu[i].Seconds()))
			cpus = append(cpus, s.cpu[i])
		}
		m := median(s.times["load"])
		fmt.Fprintf(sb, "| %s | %s | %.2fs | %.0f | %s | %.2f |\n", s.name, strings.Join(ts, ", "), m.Seconds(), served*1024/m.Seconds(), strings.Join(cs, ", "), median(cpus).Seconds()/served)
	}
	var ratios []float64
	var rs []string
	for i := range min(len(b.servers[0].times["load"]), len(b.servers[1].times["load"])) {
		r := b.servers[0].times["load"][i].Seconds() / b.servers[1].times["load"][i].Seconds()
		ratios = append(ratios, r)
		rs = append(rs, fmt.Sprintf("%.3f", r))
	}
	sort.Float64s(ratios)
	m := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		m = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
	}
	verdict := "**met**"
	if m > 0.9 {
		verdict = "**missed**"
	}
	fmt.Fprintf(sb, "\n- serve's time / Distribution's, same run: %s; median %.3f (target <= 0.90: %s)\n", strings.Join(rs, ", "), m, verdict)
	fmt.Fprintf(sb, "- peak RSS: serve %.0f MiB (target <= 64 MiB: %s)\n", float64(b.servers[0].rss)/1024, map[bool]string{true: "**met**", false: "**missed**"}[b.servers[0].rss <= 64<<10])
}

// procCPU is the CPU time (user + system) process pid has used, from /proc.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count the fields after it.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ, 100 on Linux
}

func (b *bench) close() {
	for _, s := range b.servers {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
	if b.root != "" {
		os.RemoveAll(b.root)
	}
}

// runRegistry is the Distribution process: it prints its host and serves until SIGTERM.
func runRegistry(ctx context.Context, dir string) error {
	reg, err := testregistry.Start(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Println(reg.Host)
	<-ctx.Done()
	return reg.Close()
}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	out, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", errors.New(name + " is not installed (make tools)")
	}
	return p, nil
}

func vmHWM(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	return -1
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func distinct(m *archive.Manifest) int {
	seen := map[string]bool{}
	for _, im := range m.Images {
		seen[im.Path+"@"+im.Digest] = true
	}
	return len(seen)
}

func readTrim(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// extract returns the first group of pattern in s, or "".
func extract(s, pattern string) string {
	if m := regexp.MustCompile(pattern).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
