package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// growthPlot is where the growth profile draws its curves.
var growthPlot = filepath.Join("docs", "performance-growth.svg")

// point is one fixture size of the growth profile, its medians in seconds and peaks in MiB
// (NaN when not measured).
type point struct {
	gib                                     float64
	bundle, read, since, unbundle, upload   float64
	bundleRSS, unbundleRSS                  float64
	loadStart, loadEnd                      string
	bundleRuns, unbundleRuns, readRuns, ups string
}

func (b *bench) point() point {
	wall := func(path, ph string) float64 {
		if w, ok := b.agg(key{path, ph}).wall(); ok {
			return w
		}
		return math.NaN()
	}
	rss := func(ph string) float64 {
		if v, ok := b.agg(key{"ours", ph}).maxInt(func(r result) int64 { return r.rss }); ok {
			return float64(v) / 1024
		}
		return math.NaN()
	}
	runs := func(path, ph string) string {
		var xs []string
		for _, r := range b.results[key{path, ph}] {
			if r.skipped {
				xs = append(xs, "skipped")
			} else if r.err != nil {
				xs = append(xs, "failed")
			} else {
				xs = append(xs, fmt.Sprintf("%.2f", r.wall.Seconds()))
			}
		}
		return strings.Join(xs, ", ")
	}
	return point{gib: float64(b.uniqueBytes()) / (1 << 30),
		bundle: wall("ours", "bundle"), read: wall("floor", "read"), since: wall("ours", "since"),
		unbundle: wall("ours", "unbundle"), upload: wall("floor", "uploads+mounts"),
		bundleRSS: rss("bundle"), unbundleRSS: rss("unbundle"), loadStart: b.loadAvg, loadEnd: b.loadEnd,
		bundleRuns: runs("ours", "bundle"), unbundleRuns: runs("ours", "unbundle"), readRuns: runs("floor", "read"),
		ups: runs("floor", "uploads+mounts")}
}

// growthReport is the growth profile's report: one row per fixture size, the targets at every
// size, and the curves drawn into growthPlot.
func (b *bench) growthReport(benches []*bench) (string, error) {
	var pts []point
	for _, s := range benches {
		pts = append(pts, s.point())
	}
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	p("# ess-airgap benchmark: growth profile, %d run(s) at each size, medians\n\n", b.cfg.runs)
	p("`go run ./bench %s` — %s, %.0f s in all. Machine: %d cores, %s, %s, %s; load average at the start %s.\n\n",
		strings.Join(os.Args[1:], " "), b.started.UTC().Format(time.RFC3339), time.Since(b.started).Seconds(),
		runtime.NumCPU(), memTotal(), cpuModel(), goVersion(), b.loadAvg)
	p("At each size a fresh upstream gets the fixture (seed %d, %s layers; the same images, layers scaled), and every run a fresh destination: `bundle create` against the read floor (GET of every unique blob into files, %d at a time, no hashing), `unbundle push` against the upload floor (monolithic uploads of the unique blobs, %d at a time, then the mounts), both as in the large profile. Peak RSS is GNU time's, per process.\n\n",
		b.cfg.seed, b.cfg.layers, b.cfg.floorJobs, b.cfg.floorJobs)
	p("| unique GiB | bundle s | read floor s | bundle / read floor (<= 1.15) | since s | push s | upload floor s | push / upload floor (<= 1.1) | both / both floors (<= 1.15) | bundle RSS MiB | push RSS MiB | load average at start; end |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	verdict := func(v, t float64) string {
		switch {
		case math.IsNaN(v):
			return "-"
		case v <= t:
			return fmt.Sprintf("%.3f ok", v)
		}
		return fmt.Sprintf("%.3f **miss**", v)
	}
	for _, q := range pts {
		p("| %.2f | %.2f | %.2f | %s | %.2f | %.2f | %.2f | %s | %s | %.0f | %.0f | %s; %s |\n", q.gib, q.bundle, q.read,
			verdict(q.bundle/q.read, 1.15), q.since, q.unbundle, q.upload, verdict(q.unbundle/q.upload, 1.1),
			verdict((q.bundle+q.unbundle)/(q.read+q.upload), 1.15), q.bundleRSS, q.unbundleRSS, loadShort(q.loadStart), loadShort(q.loadEnd))
	}
	p("\nEvery run (s):\n\n| unique GiB | bundle | read floor | push | upload floor |\n|---:|---|---|---|---|\n")
	for _, q := range pts {
		p("| %.2f | %s | %s | %s | %s |\n", q.gib, q.bundleRuns, q.readRuns, q.unbundleRuns, q.ups)
	}
	for _, s := range benches {
		if s.compress != nil {
			p("\nCompression, at %.2f GiB: %s", float64(s.uniqueBytes())/(1<<30), s.compress.markdown())
		}
	}
	if err := os.WriteFile(growthPlot, []byte(plotSVG(pts)), 0o644); err != nil {
		return "", err
	}
	p("\nThe curves: [%s](../%s).\n", growthPlot, growthPlot)
	return w.String(), nil
}

// loadShort is the three load averages of a /proc/loadavg line.
func loadShort(s string) string {
	f := strings.Fields(s)
	if len(f) < 3 {
		return s
	}
	return strings.Join(f[:3], " ")
}

// plotSVG draws two panels against the fixture size: wall time of the create, the push and
// their floors, and the peak RSS of the create and the push.
func plotSVG(pts []point) string {
	const W, H, pad, panel = 900, 380, 60, 380
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	maxX := 0.0
	for _, q := range pts {
		maxX = math.Max(maxX, q.gib)
	}
	type series struct {
		name, color string
		dash        bool
		y           func(point) float64
	}
	draw := func(x0 int, title, unit string, ss []series) {
		maxY := 0.0
		for _, s := range ss {
			for _, q := range pts {
				if v := s.y(q); !math.IsNaN(v) {
					maxY = math.Max(maxY, v)
				}
			}
		}
		maxY = niceCeil(maxY)
		maxX := niceCeil(maxX)
		left, top, right, bottom := x0+pad, 40, x0+pad+panel-40, H-50
		px := func(v float64) float64 { return float64(left) + v/maxX*float64(right-left) }
		py := func(v float64) float64 { return float64(bottom) - v/maxY*float64(bottom-top) }
		p(`<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, title)
		for i := 0; i <= 4; i++ {
			yv, xv := maxY*float64(i)/4, maxX*float64(i)/4
			p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, right, py(yv), py(yv))
			p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, py(yv)+4, round2(yv))
			p(`<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", px(xv), bottom+18, round2(xv))
		}
		p(`<text x="%d" y="%d" text-anchor="middle">unique blob GiB</text>`+"\n", (left+right)/2, bottom+38)
		p(`<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", left-42, (top+bottom)/2, unit)
		p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", left, top, right-left, bottom-top)
		for i, s := range ss {
			var pts2 []string
			for _, q := range pts {
				if v := s.y(q); !math.IsNaN(v) {
					pts2 = append(pts2, fmt.Sprintf("%.1f,%.1f", px(q.gib), py(v)))
					p(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(q.gib), py(v), s.color)
				}
			}
			dash := ""
			if s.dash {
				dash = ` stroke-dasharray="6,4"`
			}
			p(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts2, " "), s.color, dash)
			p(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left+10, left+34, top+14+16*i, top+14+16*i, s.color, dash)
			p(`<text x="%d" y="%d">%s</text>`+"\n", left+40, top+18+16*i, s.name)
		}
	}
	draw(0, "Wall time (median)", "seconds", []series{
		{"bundle create", "#1f77b4", false, func(q point) float64 { return q.bundle }},
		{"read floor", "#1f77b4", true, func(q point) float64 { return q.read }},
		{"unbundle push", "#d62728", false, func(q point) float64 { return q.unbundle }},
		{"upload floor", "#d62728", true, func(q point) float64 { return q.upload }},
	})
	draw(W/2, "Peak RSS", "MiB", []series{
		{"bundle create", "#1f77b4", false, func(q point) float64 { return q.bundleRSS }},
		{"unbundle push", "#d62728", false, func(q point) float64 { return q.unbundleRSS }},
	})
	p("</svg>\n")
	return w.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
