package main

import (
	"fmt"
	"strings"
)

// The report of issue 21: ours against each peer as pairs of the same run (the runs alternate
// which goes first), the ratio of each pair and their median; CPU seconds per GiB of every
// path; the resume's bytes against the bytes that were missing; peak memory.

// pairRatios returns, for every run where both phases succeeded, num's value over den's.
func (b *bench) pairRatios(num, den key, value func(result) (float64, bool)) []float64 {
	a, c := b.results[num], b.results[den]
	var out []float64
	for i := range min(len(a), len(c)) {
		if a[i].err != nil || a[i].skipped || c[i].err != nil || c[i].skipped {
			continue
		}
		x, ok1 := value(a[i])
		y, ok2 := value(c[i])
		if ok1 && ok2 && y > 0 {
			out = append(out, x/y)
		}
	}
	return out
}

func wallOf(r result) (float64, bool) { return r.wall.Seconds(), true }

// cpuPerGiB is a result's CPU seconds per GiB of unique blobs: its commands' (own), or its
// commands' and the bench process's together (all: the registries, or a floor in process).
func (b *bench) cpuPerGiB(r result, all bool) (float64, bool) {
	gib := float64(b.uniqueBytes()) / (1 << 30)
	if gib <= 0 {
		return 0, false
	}
	switch {
	case all && r.cpu >= 0:
		return (r.cpu + r.selfCPU).Seconds() / gib, true
	case all:
		return r.selfCPU.Seconds() / gib, true
	case r.cpu >= 0:
		return r.cpu.Seconds() / gib, true
	}
	return 0, false
}

func (b *bench) medianCPU(k key, all bool) (float64, bool) {
	var xs []float64
	for _, r := range b.agg(k).ok {
		if v, ok := b.cpuPerGiB(r, all); ok {
			xs = append(xs, v)
		}
	}
	return medianOf(xs), len(xs) > 0
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func joinRatios(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(s, ", ")
}

// issue21 renders the section.
func (b *bench) issue21() string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	has := func(path, phase string) bool {
		return b.cfg.paths[path] && !b.cfg.skips(phase) && len(b.agg(key{path, phase}).ok) > 0
	}
	p("\n## Issue 21: pairs of the same run, CPU per GiB, resume, memory\n\n")
	p("Each run runs every path once, in the reverse order every other run; a pair is ours and a peer of the same run, and its ratio is taken before the median (the median of the ratios, not the ratio of the medians).\n\n")
	p("| pair (same run) | ratio per run | median | target | |\n|---|---|---:|---|---|\n")
	resumeMax := 0.7
	if b.cfg.link() {
		resumeMax = 0.55
	}
	type pair struct {
		num, den key
		max      float64 // 0: no target
	}
	pairs := []pair{
		{key{"ours", "bundle"}, key{"crane", "pull"}, 1.1},
		{key{"ours", "bundle"}, key{"regctl", "pull"}, 0},
		{key{"ours", "bundle"}, key{"skopeo", "pull"}, 0},
		{key{"ours", "bundle"}, key{"crane", "pack"}, 0},
		{key{"ours", "bundle"}, key{"floor", "read"}, 1.15},
		{key{"ours", "resume"}, key{"ours", "bundle"}, resumeMax},
		{key{"ours", "unbundle"}, key{"floor", "uploads+mounts"}, 1.1},
		{key{"ours", "unbundle"}, key{"crane", "unpack+push"}, 0.5},
		{key{"ours", "unbundle"}, key{"regctl", "unpack+push"}, 0.5},
	}
	for _, pr := range pairs {
		if !has(pr.num.path, pr.num.phase) || !has(pr.den.path, pr.den.phase) {
			continue
		}
		xs := b.pairRatios(pr.num, pr.den, wallOf)
		if len(xs) == 0 {
			continue
		}
		m := medianOf(xs)
		target, v := "", ""
		if pr.max > 0 {
			target, v = fmt.Sprintf("<= %.2f", pr.max), verdict(m <= pr.max)
		}
		p("| %s %s / %s %s (wall) | %s | %.3f | %s | %s |\n", pr.num.path, pr.num.phase, pr.den.path, pr.den.phase, joinRatios(xs), m, target, v)
	}

	p("\n| path | phase | CPU s/GiB, its commands | CPU s/GiB with the registries (and a floor in process) |\n|---|---|---:|---:|\n")
	for _, path := range allPaths {
		if !b.cfg.paths[path] {
			continue
		}
		for _, ph := range phasesOf[path] {
			if !has(path, ph) || ph == "manifests" {
				continue
			}
			own, all := "-", "-"
			if v, ok := b.medianCPU(key{path, ph}, false); ok {
				own = fmt.Sprintf("%.2f", v)
			}
			if v, ok := b.medianCPU(key{path, ph}, true); ok {
				all = fmt.Sprintf("%.2f", v)
			}
			p("| %s | %s | %s | %s |\n", path, ph, own, all)
		}
	}
	p("\nCPU is user + system time: of the commands (GNU time's %%U + %%S; a pipeline's every command), and of this process meanwhile, which runs the registries and the floors. Per GiB of unique blob bytes, medians.\n\n")

	p("| target | value | | |\n|---|---|---|---|\n")
	if has("ours", "bundle") && has("crane", "pack") {
		ours, _ := b.medianCPU(key{"ours", "bundle"}, false)
		crane, _ := b.medianCPU(key{"crane", "pack"}, false)
		p("| ours bundle CPU/GiB < crane pull + tar + zstd CPU/GiB | %.2f against %.2f s/GiB | < 1 | %s |\n", ours, crane, verdict(ours < crane))
	}
	if has("ours", "resume") {
		var xs []float64
		for _, r := range b.results[key{"ours", "resume"}] {
			if r.err == nil && !r.skipped && r.killed >= 0 && r.pulled >= 0 && b.uniqueBytes() > r.killed {
				xs = append(xs, float64(r.pulled)/float64(b.uniqueBytes()-r.killed))
			}
		}
		if len(xs) > 0 {
			target, v := "", ""
			received := "what the link delivered to the killed run"
			if b.cfg.link() {
				target, v = "<= 1.05", verdict(medianOf(xs) <= 1.05)
			} else {
				received = "what the registry sent the killed run, some of which sat in socket buffers at the kill: an overestimate on loopback"
			}
			p("| ours resume: bytes the rerun pulled / bytes missing (unique blob bytes less %s) | %s (median %.3f) | %s | %s |\n", received, joinRatios(xs), medianOf(xs), target, v)
		}
	}
	for _, ph := range []string{"bundle", "unbundle", "resume"} {
		if !has("ours", ph) {
			continue
		}
		if v, ok := b.agg(key{"ours", ph}).maxInt(func(r result) int64 { return r.rss }); ok {
			p("| ours %s peak RSS | %.0f MiB | <= 64 MiB | %s |\n", ph, float64(v)/1024, verdict(v <= 64<<10))
		}
	}
	return w.String()
}
