// Command bench measures bundle create and unbundle push against the tools a user could use
// instead and against what the registries can do at best, in one run, on the same fixture, the
// same machine and the same kind of registry (issues 3 and 15).
//
//	go run ./bench [-profile small|large|link|growth] [-runs N] [-paths ours,crane,...] [-out FILE]
//
// It starts an upstream Distribution registry in-process (filesystem storage in a temporary
// directory), generates the ESS-like fixture into it (internal/fixture; -layers real for
// layers of text, binaries and compressed files), writes images_digests.yml and derives the
// distinct source references and their digests. Then, for every run and every path, it starts a
// fresh, empty destination Distribution registry and runs the path's phases as subprocesses:
//
//	ours    bin/bundle create (bundle); the same again with --since the first (since); a
//	        create killed half way and resumed (resume); bin/unbundle push (unbundle); the
//	        same in parts, with parity
//	crane   crane pull --format=oci of every ref, tar | zstd -T0 -3, sync (pack);
//	        zstd -dc | tar -x, then crane push of a one-image layout per image (unpack+push)
//	regctl  regctl image copy REF ocidir://DIR:iN per image, tar | zstd, sync (pack);
//	        zstd -dc | tar -x, regctl image copy ocidir://DIR@DIGEST DEST per image
//	skopeo  skopeo copy --all docker://REF oci:DIR:iN per image, tar | zstd, sync (pack);
//	        zstd -dc | tar -x, skopeo copy --all oci:DIR:iN docker://DEST per image
//	direct  crane copy SRC DEST per ref, registry to registry, no archive
//	floor   in-process net/http: GET of every unique blob into files, 4 at a time, no
//	        hashing (read); monolithic POST+PUT of every unique blob from files, 4 at a time,
//	        largest first, then one cross-repository mount per other (repository, blob) pair
//	        (uploads+mounts); then the manifests, so that the digests can be checked
//
// Profiles: small (60 MiB, 1 run) and large (2 GiB, 3 runs) on loopback; link (1 GiB, 3 runs):
// the upstream behind a shaped link (link.go: -rtt, -bandwidth) with a token per repository,
// the connected side only (our create and since, the peers' pack, the read floor); growth
// (ours and the floors at each of -sizes GiB, 1 run, each push from a bundle out of the page
// cache), which draws docs/performance-growth.svg.
//
// For every phase it records the wall time, the peak RSS of the biggest process, the blob bytes
// the destination received, the extra disk used on the bastion side, the archive size, the
// upstream's requests and, after the push, how many tags resolve to the upstream digest. It
// prints a Markdown table with medians, the ratios the issues set targets for, and the machine
// it ran on, and writes the same to -out.
//
// All traffic stays on 127.0.0.1; every subprocess runs in its own process group under a
// timeout; every temporary directory is removed at the end (unless -keep).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
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
	cfg          config
	size         int64  // of this fixture
	root         string // every temporary file lives below
	logf         func(format string, a ...any)
	upstream     *testregistry.Registry
	link         *link  // in front of upstream, or nil
	upstreamHost string // what every client pulls from: the link's address, or the upstream's
	list         string // images_digests.yml, naming upstreamHost
	directList   string // the same naming the upstream itself (the untimed warm-up)
	images       []digests.Image
	refs         []ref
	bySrc        map[string]*ref // by Src, and by the direct reference too
	tools        map[string]tool
	bundle       string // bin/bundle, absolute
	unbundle     string
	client       *http.Client
	timeBin      string // GNU time, which measures every subprocess's peak RSS; "" if missing
	timeVersion  string
	rssDir       string // where GNU time writes
	seq          *atomic.Int64
	floor        *floorPlan // nil when the preparation failed
	prepErr      error
	refZst       int64 // bytes of zstd -3 over a tar of the unique blobs; -1 unknown
	compress     *compressStudy
	results      map[key][]result
	started      time.Time
	loadAvg      string // /proc/loadavg when the bench started: other work on the machine skews it
	loadEnd      string // and when this fixture's runs ended
	fixTime      time.Duration
}

func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	b := &bench{
		cfg:     cfg,
		size:    cfg.size,
		logf:    func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) },
		results: map[key][]result{},
		refZst:  -1,
		seq:     new(atomic.Int64),
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

	var md string
	if cfg.profile == "growth" {
		var points []*bench
		for _, size := range cfg.sizes {
			sub := b.fork(size)
			err := sub.measure(ctx)
			sub.close()
			if err != nil {
				return err
			}
			points = append(points, sub)
		}
		if md, err = b.growthReport(points); err != nil {
			return err
		}
	} else {
		err := b.measure(ctx)
		b.close()
		if err != nil {
			return err
		}
		md = b.report()
	}
	fmt.Print(md)
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
		return err
	}
	b.logf("wrote %s", cfg.out)
	return ctx.Err()
}

// fork is a bench for another fixture size, in a directory of its own, sharing the tools.
func (b *bench) fork(size int64) *bench {
	f := *b
	f.size = size
	f.root = filepath.Join(b.root, fmt.Sprintf("size-%d", size>>20))
	f.results = map[key][]result{}
	f.floor, f.prepErr, f.refZst, f.compress = nil, nil, -1, nil
	f.started, f.loadAvg = time.Now(), readTrim("/proc/loadavg")
	return &f
}

// close stops the upstream and its link and, in growth, removes the fixture's directory.
func (b *bench) close() {
	if b.link != nil {
		b.link.Close()
	}
	if b.upstream != nil {
		b.upstream.Close()
	}
	if b.cfg.profile == "growth" && !b.cfg.keep {
		os.RemoveAll(b.root)
	}
}

// measure starts the upstream (behind the link, for that profile), generates the fixture of
// b.size into it, prepares, and runs every path cfg.runs times.
func (b *bench) measure(ctx context.Context) error {
	cfg := b.cfg
	var err error
	var opts []testregistry.Option
	if cfg.link() {
		// As ghcr.io and docker.io: anonymous pulls with a token per repository; the token
		// service on the registry's own host, so that crane accepts its realm.
		opts = append(opts, testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{AnonymousPull: true, OnRegistryHost: true}))
	}
	if b.upstream, err = testregistry.Start(ctx, filepath.Join(b.root, "upstream"), opts...); err != nil {
		return err
	}
	b.upstreamHost = b.upstream.Host
	b.logf("upstream registry %s; generating the %s fixture (%d MiB, seed %d, %s layers)", b.upstream.Host, cfg.profile, b.size>>20, cfg.seed, cfg.layers)
	t0 := time.Now()
	if b.images, err = fixture.Generate(ctx, fixture.Options{Registry: b.upstream.Host, Size: b.size, Seed: cfg.seed,
		Real: cfg.layers == "real", Transport: b.upstream.Transport(), Username: b.upstream.Username, Password: b.upstream.Password}); err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	b.fixTime = time.Since(t0)
	if b.directList, err = b.writeList("images_digests.direct.yml", b.images); err != nil {
		return err
	}
	if cfg.link() {
		if b.link, err = startLink(b.upstream.Host, cfg.rtt, cfg.bandwidth); err != nil {
			return err
		}
		b.upstreamHost = b.link.Addr()
		b.logf("link %s -> %s: round trip %s, %.0f Mbit/s", b.upstreamHost, b.upstream.Host, cfg.rtt, cfg.bandwidth/1e6)
		for i := range b.images {
			b.images[i].Server = b.upstreamHost
		}
	}
	if b.list, err = b.writeList("images_digests.yml", b.images); err != nil {
		return err
	}
	if err := b.deriveRefs(ctx); err != nil {
		return err
	}
	b.logf("fixture: %d containers, %d distinct images, generated in %.1fs", len(b.images), len(b.refs), b.fixTime.Seconds())

	// Our bundle once, untimed, straight from the upstream: it warms the upstream registry's
	// files into the page cache (every path then reads them from memory) and gives the unique
	// blobs: their bytes (behind every MiB/s), the floors' plan and the zstd -3 reference size.
	b.prepare(ctx)

	// The runs: every path once per run, interleaved, so drift hits every path alike, and in
	// the reverse order every other run, so that ours and each peer take turns at going first
	// (the pairs of the report compare the two of one run).
	for i := 1; i <= cfg.runs; i++ {
		order := slices.Clone(allPaths)
		if i%2 == 0 {
			slices.Reverse(order)
		}
		for _, p := range order {
			if !cfg.paths[p] {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.runPath(ctx, p, i)
		}
	}
	b.loadEnd = readTrim("/proc/loadavg")
	return nil
}

// writeList writes images as an image list in the bench's directory and returns its path.
func (b *bench) writeList(name string, images []digests.Image) (string, error) {
	yml, err := digests.Marshal(images)
	if err != nil {
		return "", err
	}
	p := filepath.Join(b.root, name)
	if err := os.MkdirAll(b.root, 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, yml, 0o644)
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
		if b.upstreamHost != b.upstream.Host { // the warm-up bundle names the upstream itself
			b.bySrc[b.upstream.Host+strings.TrimPrefix(b.refs[i].Src, b.upstreamHost)] = &b.refs[i]
		}
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

// head returns the digest of what the registry serves for s (plain HTTP: every host here is
// loopback), read through internal/oci.
func (b *bench) head(ctx context.Context, s string) (string, error) {
	c, err := oci.New(oci.WithPlainHTTP(true), oci.WithTransport(b.client.Transport))
	if err != nil {
		return "", err
	}
	m, err := c.GetManifest(ctx, s)
	if err != nil {
		return "", err
	}
	return m.Digest, nil
}

// checkDigests counts the refs whose destination tag resolves to the upstream digest.
func (b *bench) checkDigests(ctx context.Context, host string) (kept, total int, bad []string) {
	for _, r := range b.refs {
		total++
		got, err := b.head(ctx, r.dest(host))
		switch {
		case errors.Is(err, oci.ErrNotFound):
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
