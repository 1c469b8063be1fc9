package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	profile   string
	size      int64
	sizes     []int64 // growth: the fixture sizes, in order
	layers    string  // fixture content: random or real
	rtt       time.Duration
	bandwidth float64 // bits per second; with rtt, the link in front of the upstream (link)
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
	pprof     string // where CPU profiles and /proc/vmstat samples of the push phases go; "" none
	cold      bool   // drop the bundle's (and the upload floor's files') pages before each push
	alt       string // another unbundle binary, pushed the same bundle beside ours (A/B)
}

// link reports whether the upstream sits behind the shaped link.
func (c config) link() bool { return c.profile == "link" }

// skips reports whether the profile leaves phase out: growth measures the create and the push
// against their floors only; link measures the connected side (the pulls over the link) only.
func (c config) skips(phase string) bool {
	if phase == "unbundle alt" && c.alt == "" {
		return true
	}
	switch c.profile {
	case "growth":
		return phase == "resume" || phase == "plan" || strings.HasPrefix(phase, "split") || strings.HasPrefix(phase, "parity")
	case "link":
		return phase != "bundle" && phase != "plan" && phase != "since" && phase != "resume" && phase != "pull" && phase != "pack" && phase != "read"
	}
	return false
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.profile, "profile", "large", "small (60 MiB, 1 run), large (2 GiB, 3 runs), link (the upstream behind a shaped link with token auth, 1 GiB, 3 runs, the connected side only) or growth (ours and the floors at each of -sizes, 1 run)")
	fs.IntVar(&c.runs, "runs", 0, "runs of every path (default: the profile's); the table shows medians")
	fs.StringVar(&c.out, "out", "", "write the Markdown report to FILE (default bench/results[-PROFILE].md)")
	fs.StringVar(&c.bin, "bin", "bin", "directory holding the bundle and unbundle binaries (make build)")
	fs.IntVar(&c.jobs, "jobs", 0, "--jobs for bundle create and unbundle push (0: their default)")
	fs.IntVar(&c.peerJobs, "peer-jobs", 1, "per-image peer commands (push, copy) run at once; 1 is a plain shell loop")
	fs.IntVar(&c.floorJobs, "floor-jobs", 4, "concurrent downloads (read floor), uploads and mounts (upload floor)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "timeout of every subprocess")
	fs.Int64Var(&c.seed, "seed", 2310, "fixture seed")
	fs.Int64Var(&c.size, "size", 0, "fixture bytes of unique layers (default: the profile's)")
	sizes := fs.String("sizes", "1,2,4,8", "growth: fixture sizes in GiB, comma-separated")
	fs.StringVar(&c.layers, "layers", "random", "fixture layers: random (gzip'd tars of random bytes, stored) or real (gzip'd tars of text, binaries and compressed files)")
	fs.DurationVar(&c.rtt, "rtt", 40*time.Millisecond, "link: round trip of the link in front of the upstream")
	mbits := fs.Float64("bandwidth", 400, "link: bandwidth of the link in front of the upstream, Mbit/s each way")
	fs.StringVar(&c.workdir, "workdir", "", "where temporary directories go (default: $TMPDIR or /tmp)")
	paths := fs.String("paths", "", "paths to measure, comma-separated (default: every path the profile has)")
	fs.StringVar(&c.pprof, "pprof", "", "write CPU profiles of our commands (ESS_AIRGAP_CPUPROFILE) and of the bench process (the registries) during each push phase, and /proc/vmstat samples, into DIR")
	cold := fs.String("cold", "", "true: each push reads the bundle (and the upload floor its files) from the disk, their pages dropped first, as on a bastion that did not just write it; default true in growth, false elsewhere")
	fs.StringVar(&c.alt, "alt", "", "another unbundle binary: each run pushes the same bundle with it too, into a fresh registry, right after ours (phase \"unbundle alt\"), to compare two builds in the same conditions")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directories, and every subprocess's output in ROOT/logs (for debugging)")
	fs.BoolVar(&c.install, "install", true, "install a missing crane/regctl (go install) or skopeo (apt-get, as root)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() != 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.bandwidth = *mbits * 1e6
	switch *cold {
	case "":
		c.cold = c.profile == "growth"
	case "true", "false":
		c.cold = *cold == "true"
	default:
		return c, fmt.Errorf("-cold %q: want true or false", *cold)
	}
	size, runs, def := map[string]int64{"small": 60 << 20, "large": 2 << 30, "link": 1 << 30, "growth": 0},
		map[string]int{"small": 1, "large": 3, "link": 3, "growth": 1},
		map[string]string{"link": "ours,crane,regctl,skopeo,floor", "growth": "ours,floor"}
	if _, ok := size[c.profile]; !ok {
		return c, fmt.Errorf("-profile %q: want small, large, link or growth", c.profile)
	}
	if c.size == 0 {
		c.size = size[c.profile]
	}
	if c.runs == 0 {
		c.runs = runs[c.profile]
	}
	if c.out == "" {
		c.out = filepath.Join("bench", "results.md")
		if c.profile != "large" {
			c.out = filepath.Join("bench", "results-"+c.profile+".md")
		}
	}
	if c.profile == "growth" {
		for _, f := range strings.Split(*sizes, ",") {
			var gib float64
			if _, err := fmt.Sscan(strings.TrimSpace(f), &gib); err != nil || gib <= 0 {
				return c, fmt.Errorf("-sizes: %q is not a positive number of GiB", f)
			}
			c.sizes = append(c.sizes, int64(gib*(1<<30)))
		}
	}
	if c.layers != "random" && c.layers != "real" {
		return c, fmt.Errorf("-layers %q: want random or real", c.layers)
	}
	if c.runs < 1 || c.peerJobs < 1 || c.floorJobs < 1 || c.timeout <= 0 || c.rtt < 0 || c.bandwidth <= 0 {
		return c, errors.New("-runs, -peer-jobs, -floor-jobs, -timeout and -bandwidth must be positive, -rtt not negative")
	}
	if *paths == "" {
		*paths = def[c.profile]
		if *paths == "" {
			*paths = strings.Join(allPaths, ",")
		}
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
