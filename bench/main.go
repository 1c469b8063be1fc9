// Command bench measures bundle create and unbundle push against the tools a user could use
// instead, in one run, on the same fixture, the same machine and the same kind of registry
// (issue 3).
//
//	go run ./bench [-profile small|large] [-runs N] [-out FILE] [-paths ours,crane,...]
//
// It starts an upstream Distribution registry in-process (filesystem storage in a temporary
// directory), generates the ESS-like fixture into it (internal/fixture; large: 2 GiB of unique
// layers, small: 60 MiB), writes images_digests.yml and derives the distinct source references
// and their digests. Then, for every run and every path, it starts a fresh, empty destination
// Distribution registry and runs the path's phases as subprocesses:
//
//	ours    bin/bundle create (pack); bin/unbundle push (unpack+push, straight from the bundle)
//	crane   crane pull --format=oci of every ref, tar | zstd -T0 -3, sync (pack);
//	        zstd -dc | tar -x, then crane push of a one-image layout per image (unpack+push)
//	regctl  regctl image copy REF ocidir://DIR:iN per image, tar | zstd, sync (pack);
//	        zstd -dc | tar -x, regctl image copy ocidir://DIR@DIGEST DEST per image
//	skopeo  skopeo copy --all docker://REF oci:DIR:iN per image, tar | zstd, sync (pack);
//	        zstd -dc | tar -x, skopeo copy --all oci:DIR:iN docker://DEST per image
//	direct  crane copy SRC DEST per ref, registry to registry, no archive
//	floor   in-process net/http: monolithic POST+PUT of every unique blob from files, 4 at
//	        a time, largest first, then one cross-repository mount per other (repository,
//	        blob) pair; then the manifests, so that the digests can be checked
//
// For every phase it records the wall time, the peak RSS of the biggest process, the blob bytes
// the destination received, the extra disk used on the bastion side, the archive size and,
// after the push, how many tags resolve to the upstream digest. It prints a Markdown table with
// medians, the ratios the issue sets targets for, and the machine it ran on, and writes the
// same to -out.
//
// All traffic stays on 127.0.0.1; every subprocess runs in its own process group under a
// timeout; every temporary directory is removed at the end (unless -keep).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// allPaths in the order they run and are reported.
var allPaths = []string{"ours", "crane", "regctl", "skopeo", "direct", "floor"}

type config struct {
	profile   string
	size      int64
	runs      int
	out       string
	bin       string
	jobs      int
	peerJobs  int
	floorJobs int
	timeout   time.Duration
	seed      int64
	workdir   string
	paths     map[string]bool
	keep      bool
	install   bool
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.profile, "profile", "large", "fixture profile: small (60 MiB, 1 run) or large (2 GiB, 3 runs)")
	fs.IntVar(&c.runs, "runs", 0, "runs of every path (default: 1 for small, 3 for large); the table shows medians")
	fs.StringVar(&c.out, "out", filepath.Join("bench", "results.md"), "write the Markdown report to FILE")
	fs.StringVar(&c.bin, "bin", "bin", "directory holding the bundle and unbundle binaries (make build)")
	fs.IntVar(&c.jobs, "jobs", 0, "--jobs for bundle create and unbundle push (0: their default)")
	fs.IntVar(&c.peerJobs, "peer-jobs", 1, "per-image peer commands (push, copy) run at once; 1 is a plain shell loop")
	fs.IntVar(&c.floorJobs, "floor-jobs", 4, "concurrent uploads and mounts of the upload floor")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "timeout of every subprocess")
	fs.Int64Var(&c.seed, "seed", 2310, "fixture seed")
	fs.Int64Var(&c.size, "size", 0, "fixture bytes of unique layers (default: the profile's)")
	fs.StringVar(&c.workdir, "workdir", "", "where temporary directories go (default: $TMPDIR or /tmp)")
	paths := fs.String("paths", strings.Join(allPaths, ","), "paths to measure, comma-separated")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directories, and every subprocess's output in ROOT/logs (for debugging)")
	fs.BoolVar(&c.install, "install", true, "install a missing crane/regctl (go install) or skopeo (apt-get, as root)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() != 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch c.profile {
	case "small":
		if c.size == 0 {
			c.size = 60 << 20
		}
		if c.runs == 0 {
			c.runs = 1
		}
	case "large":
		if c.size == 0 {
			c.size = 2 << 30
		}
		if c.runs == 0 {
			c.runs = 3
		}
	default:
		return c, fmt.Errorf("-profile %q: want small or large", c.profile)
	}
	if c.runs < 1 || c.peerJobs < 1 || c.floorJobs < 1 || c.timeout <= 0 {
		return c, errors.New("-runs, -peer-jobs, -floor-jobs and -timeout must be positive")
	}
	c.paths = map[string]bool{}
	for _, p := range strings.Split(*paths, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		known := false
		for _, q := range allPaths {
			known = known || p == q
		}
		if !known {
			return c, fmt.Errorf("-paths: unknown path %q (known: %s)", p, strings.Join(allPaths, ","))
		}
		c.paths[p] = true
	}
	return c, nil
}

// ref is one distinct source image: pulled once, pushed to one destination tag.
type ref struct {
	Path   string // repository path, the same upstream and on the destination
	Tag    string // "" when the list pins only a digest
	Digest string // upstream digest (of the index for multi-arch images)
	Src    string // upstream HOST/path:tag (or @digest)
	Name   string // i01, i02...: the name given to the image inside the peers' layouts
}

// dest is the reference the image is pushed to on host.
func (r ref) dest(host string) string {
	if r.Tag == "" {
		return host + "/" + r.Path + "@" + r.Digest
	}
	return host + "/" + r.Path + ":" + r.Tag
}

type bench struct {
	cfg         config
	root        string // every temporary file lives below
	logf        func(format string, a ...any)
	upstream    *testregistry.Registry
	list        string // images_digests.yml
	images      []digests.Image
	refs        []ref
	bySrc       map[string]*ref
	tools       map[string]tool
	bundle      string // bin/bundle, absolute
	unbundle    string
	client      *http.Client
	timeBin     string // GNU time, which measures every subprocess's peak RSS; "" if missing
	timeVersion string
	seq         atomic.Int64
	floor       *floorPlan // nil when the preparation failed
	prepErr     error
	refZst      int64 // bytes of zstd -3 over a tar of the unique blobs; -1 unknown
	results     map[key][]result
	started     time.Time
	loadAvg     string // /proc/loadavg when the bench started: other work on the machine skews it
	fixTime     time.Duration
}

func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	b := &bench{
		cfg:     cfg,
		logf:    func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) },
		results: map[key][]result{},
		refZst:  -1,
		started: time.Now(),
		loadAvg: readTrim("/proc/loadavg"),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // loopback only, never through a proxy
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}},
	}
	for _, n := range []string{"bundle", "unbundle"} {
		p, err := filepath.Abs(filepath.Join(cfg.bin, n))
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: %w (run make build first)", p, err)
		}
		if n == "bundle" {
			b.bundle = p
		} else {
			b.unbundle = p
		}
	}
	if b.root, err = os.MkdirTemp(cfg.workdir, "ess-bench-"); err != nil {
		return err
	}
	if cfg.keep {
		b.logf("keeping %s", b.root)
	} else {
		defer func() {
			b.logf("removing %s", b.root)
			os.RemoveAll(b.root)
		}()
	}
	b.findTime(ctx)
	b.findTools(ctx)

	// 1. Upstream and fixture.
	if b.upstream, err = testregistry.Start(ctx, filepath.Join(b.root, "upstream")); err != nil {
		return err
	}
	defer b.upstream.Close()
	b.logf("upstream registry %s; generating the %s fixture (%d MiB, seed %d)", b.upstream.Host, cfg.profile, cfg.size>>20, cfg.seed)
	t0 := time.Now()
	if b.images, err = fixture.Generate(ctx, fixture.Options{Registry: b.upstream.Host, Size: cfg.size, Seed: cfg.seed}); err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	b.fixTime = time.Since(t0)
	yml, err := digests.Marshal(b.images)
	if err != nil {
		return err
	}
	b.list = filepath.Join(b.root, "images_digests.yml")
	if err := os.WriteFile(b.list, yml, 0o644); err != nil {
		return err
	}
	if err := b.deriveRefs(ctx); err != nil {
		return err
	}
	b.logf("fixture: %d containers, %d distinct images, generated in %.1fs", len(b.images), len(b.refs), b.fixTime.Seconds())

	// Our bundle once, untimed: it warms the upstream registry's files into the page cache
	// (every path then reads them from memory) and gives the unique blobs: their bytes (behind
	// every MiB/s), the floor's plan and the zstd -3 reference size.
	b.prepare(ctx)

	// 2. The runs: every path once per run, interleaved, so drift hits every path alike.
	for i := 1; i <= cfg.runs; i++ {
		for _, p := range allPaths {
			if !cfg.paths[p] {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.runPath(ctx, p, i)
		}
	}

	// 3. Report.
	md := b.report()
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return err
		}
		b.logf("wrote %s", cfg.out)
	}
	return ctx.Err()
}

// deriveRefs groups the list into distinct source images and checks that upstream serves
// each at the digest the fixture reported.
func (b *bench) deriveRefs(ctx context.Context) error {
	seen := map[string]bool{}
	for _, im := range b.images {
		src := im.Ref()
		if seen[src] {
			continue
		}
		seen[src] = true
		if im.Digest == "" {
			return fmt.Errorf("fixture image %s has no digest", src)
		}
		b.refs = append(b.refs, ref{Path: im.Path, Tag: im.Tag, Digest: im.Digest, Src: src})
	}
	sort.SliceStable(b.refs, func(i, j int) bool { return b.refs[i].Src < b.refs[j].Src })
	b.bySrc = map[string]*ref{}
	for i := range b.refs {
		b.refs[i].Name = fmt.Sprintf("i%02d", i+1)
		b.bySrc[b.refs[i].Src] = &b.refs[i]
	}
	for _, r := range b.refs {
		got, err := b.head(ctx, r.Src)
		if err != nil {
			return fmt.Errorf("upstream %s: %w", r.Src, err)
		}
		if got != r.Digest {
			return fmt.Errorf("upstream %s serves %s, the fixture said %s", r.Src, got, r.Digest)
		}
	}
	return nil
}

// head returns the digest the registry serves for s (plain HTTP: every host here is loopback).
func (b *bench) head(ctx context.Context, s string) (string, error) {
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(r, remote.WithContext(ctx), remote.WithTransport(b.client.Transport))
	if err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}

// checkDigests counts the refs whose destination tag resolves to the upstream digest.
func (b *bench) checkDigests(ctx context.Context, host string) (kept, total int, bad []string) {
	for _, r := range b.refs {
		total++
		got, err := b.head(ctx, r.dest(host))
		switch {
		case err != nil && strings.Contains(err.Error(), "404"):
			bad = append(bad, r.Path+": missing")
		case err != nil:
			msg := firstLine(err.Error())
			if len(msg) > 100 {
				msg = msg[:100] + "..."
			}
			bad = append(bad, r.Path+": "+msg)
		case got != r.Digest:
			bad = append(bad, fmt.Sprintf("%s: %s, upstream %s", r.Path, short(got), short(r.Digest)))
		default:
			kept++
		}
	}
	return kept, total, bad
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// goVersion is the toolchain that built the bench (the same `go` builds bin/ under make).
func goVersion() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }
