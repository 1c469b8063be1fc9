package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

func mib(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

// agg is every run of one phase.
type agg struct {
	ok      []result
	failed  []result
	skipped int
}

func (b *bench) agg(k key) agg {
	var a agg
	for _, r := range b.results[k] {
		switch {
		case r.skipped:
			a.skipped++
		case r.err != nil:
			a.failed = append(a.failed, r)
		default:
			a.ok = append(a.ok, r)
		}
	}
	return a
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// wall is the median wall time in seconds of the successful runs.
func (a agg) wall() (float64, bool) {
	var xs []float64
	for _, r := range a.ok {
		xs = append(xs, r.wall.Seconds())
	}
	return medianOf(xs), len(xs) > 0
}

// medianInt is the median of f over the successful runs, skipping n/a (-1) values.
func (a agg) medianInt(f func(result) int64) (int64, bool) {
	var xs []float64
	for _, r := range a.ok {
		if v := f(r); v >= 0 {
			xs = append(xs, float64(v))
		}
	}
	return int64(medianOf(xs)), len(xs) > 0
}

// maxInt is the largest f over the successful runs, skipping n/a (-1) values.
func (a agg) maxInt(f func(result) int64) (int64, bool) {
	m, ok := int64(0), false
	for _, r := range a.ok {
		if v := f(r); v >= 0 {
			m, ok = max(m, v), true
		}
	}
	return m, ok
}

func (b *bench) uniqueBytes() int64 {
	if b.floor == nil {
		return -1
	}
	return b.floor.uniqueBytes
}

func (b *bench) report() string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	unique := b.uniqueBytes()

	p("# ess-airgap benchmark: %s profile, %d run(s), medians\n\n", b.cfg.profile, b.cfg.runs)
	p("`go run ./bench %s` — %s, %.0f s in all.\n\n", strings.Join(os.Args[1:], " "), b.started.UTC().Format(time.RFC3339), time.Since(b.started).Seconds())

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", b.started.UTC().Format("2006-01-02 15:04 MST"))
	p("| CPU | %s |\n", cpuModel())
	p("| nproc | %d |\n", runtime.NumCPU())
	p("| memory | %s |\n", memTotal())
	p("| kernel | %s |\n", readTrim("/proc/sys/kernel/osrelease"))
	p("| load average (/proc/loadavg) | at the start: %s; at the end: %s |\n", b.loadAvg, readTrim("/proc/loadavg"))
	p("| go | %s |\n", goVersion())
	if b.timeBin != "" {
		p("| time | %s — %s (peak RSS) |\n", b.timeVersion, b.timeBin)
	}
	p("| work dir | %s (same disk for both registries, the bundles and the bastion side) |\n", b.root)
	for _, s := range toolSpecs {
		t := b.tools[s.name]
		if t.err != nil {
			p("| %s | missing: %s |\n", s.name, t.err)
		} else {
			p("| %s | %s — %s (%s) |\n", s.name, t.version, t.path, t.how)
		}
	}

	p("\n## Fixture\n\n")
	p("internal/fixture, seed %d, %s MiB asked, generated in %.1f s into an in-process Distribution registry (filesystem storage); every destination is a fresh one, emptied by removing it after each path's run.\n\n", b.cfg.seed, mib(b.cfg.size), b.fixTime.Seconds())
	p("- %d containers, %d distinct images (source refs)\n", len(b.images), len(b.refs))
	if b.floor != nil {
		f := b.floor
		p("- %d repositories, %d unique blobs (configs and layers): **%s MiB** (%d bytes); this is the \"unique blob bytes\" behind every MiB/s\n", f.repos, len(f.blobs), mib(f.uniqueBytes), f.uniqueBytes)
		p("- %d (repository, blob) pairs, %s MiB: what an uploader that never mounts sends; %d of the pairs are cross-repository mounts in the floor\n", f.pairs, mib(f.pairBytes), len(f.mounts))
		p("- `tar` of the unique blobs (the extracted `blobs/` directory: manifests, configs, layers) through `zstd -3 -T0`: %s MiB (%d bytes)\n", mib(b.refZst), b.refZst)
	} else {
		p("- unique blobs unknown: %v\n", b.prepErr)
	}

	if b.compress != nil {
		p("\n## Compressing the layers (-layers real)\n\n%s", b.compress.markdown())
	}

	p("\n## Results\n\n")
	p("Median wall time of %d run(s); MiB/s = unique blob bytes / wall; CPU s/GiB = user + system time of the phase's commands per GiB of unique blob bytes (the floors, which run in this process: this process's, registries included); peak RSS = the largest ru_maxrss of any one process of the phase, largest over the runs; uploaded = blob bytes the destination registry read from upload requests; extra disk = peak bytes allocated on the bastion side besides the bundle; archive = the bundle file.\n\n", b.cfg.runs)
	p("| path | phase | wall s | MiB/s | CPU s/GiB | peak RSS MiB | uploaded MiB | extra disk MiB | archive MiB | digests kept | note |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, path := range allPaths {
		if !b.cfg.paths[path] {
			continue
		}
		for _, ph := range phasesOf[path] {
			if b.cfg.skips(ph) {
				continue
			}
			a := b.agg(key{path, ph})
			cells := []string{path, ph, "-", "-", "-", "-", "-", "-", "-", "-", ""}
			if wall, ok := a.wall(); ok {
				cells[2] = fmt.Sprintf("%.2f", wall)
				if unique > 0 && wall > 0 && ph != "manifests" {
					cells[3] = fmt.Sprintf("%.0f", float64(unique)/(1<<20)/wall)
				}
			}
			if v, ok := b.medianCPU(key{path, ph}, path == "floor"); ok && ph != "manifests" {
				cells[4] = fmt.Sprintf("%.2f", v)
			}
			if v, ok := a.maxInt(func(r result) int64 { return r.rss }); ok {
				cells[5] = fmt.Sprintf("%.0f", float64(v)/1024)
			} else if len(a.ok) > 0 {
				cells[5] = "(in-process)"
			}
			if v, ok := a.medianInt(func(r result) int64 { return r.uploaded }); ok {
				cells[6] = mib(v)
			}
			if v, ok := a.maxInt(func(r result) int64 { return r.extraDisk }); ok {
				cells[7] = mib(v)
			}
			if v, ok := a.medianInt(func(r result) int64 { return r.archive }); ok {
				cells[8] = mib(v)
			}
			kept, total := -1, 0
			for _, r := range append(append([]result(nil), a.ok...), a.failed...) {
				if r.total > 0 && (kept < 0 || r.kept < kept) {
					kept, total = r.kept, r.total
				}
			}
			if total > 0 {
				cells[9] = fmt.Sprintf("%d/%d", kept, total)
			}
			var notes []string
			if len(a.failed) > 0 {
				notes = append(notes, fmt.Sprintf("**FAILED** %d/%d run(s): %s", len(a.failed), len(b.results[key{path, ph}]), strings.ReplaceAll(firstLine(a.failed[0].err.Error()), "|", "/")))
			}
			if a.skipped > 0 {
				notes = append(notes, fmt.Sprintf("not run %d time(s): an earlier phase failed", a.skipped))
			}
			cells[10] = strings.Join(notes, "; ")
			p("| %s |\n", strings.Join(cells, " | "))
		}
	}

	p("\n## Ratios (targets of issues 3 and 15)\n\n")
	p("| ratio | value | target | |\n|---|---:|---|---|\n")
	wall := func(path, ph string) (float64, bool) {
		if !b.cfg.paths[path] {
			return 0, false
		}
		return b.agg(key{path, ph}).wall()
	}
	ratio := func(label string, num, den float64, ok bool, target string, pass func(float64) bool) {
		if (!ok || den <= 0) && b.cfg.profile == "link" {
			return // the phases the link profile leaves out
		}
		if !ok || den <= 0 {
			p("| %s | n/a | %s | |\n", label, target)
			return
		}
		v := num / den
		verdict := ""
		if pass != nil {
			verdict = "miss"
			if pass(v) {
				verdict = "ok"
			}
		}
		p("| %s | %.3f | %s | %s |\n", label, v, target, verdict)
	}
	le := func(t float64) func(float64) bool { return func(v float64) bool { return v <= t } }
	packTarget, packMax := "<= 0.7", 0.7 // issue 3, on loopback
	if b.cfg.link() {
		packTarget, packMax = "<= 0.5", 0.5 // issue 15, over the link
	}
	ob, okB := wall("ours", "bundle")
	ou, okU := wall("ours", "unbundle")
	for _, peer := range []struct {
		path, target string
		pass         func(float64) bool
	}{{"crane", "<= 0.5", le(0.5)}, {"regctl", "<= 0.5", le(0.5)}, {"skopeo", "", nil}} {
		d, ok := wall(peer.path, "unpack+push")
		ratio("ours unbundle / "+peer.path+" unpack+push", ou, d, ok && okU, peer.target, peer.pass)
	}
	f, okF := wall("floor", "uploads+mounts")
	ratio("ours unbundle / upload floor (uploads+mounts)", ou, f, okF && okU, "<= 1.1", le(1.1))
	rf, okR := wall("floor", "read")
	ratio("ours bundle / read floor (GET of every unique blob into files)", ob, rf, okR && okB, "<= 1.15", le(1.15))
	ratio("(ours bundle + ours unbundle) / (read floor + upload floor)", ob+ou, rf+f, okR && okF && okB && okU, "<= 1.15", le(1.15))
	if sn, ok := wall("ours", "since"); ok && okB {
		ratio("ours since (the same list, --since the first bundle) / ours bundle", sn, ob, true, "< 0.05", func(v float64) bool { return v < 0.05 })
	}
	if b.cfg.link() && unique > 0 {
		lt := float64(unique) * 8 / b.cfg.bandwidth
		ratio(fmt.Sprintf("ours bundle / link time (unique blob bytes / %.0f Mbit/s = %.2f s)", b.cfg.bandwidth/1e6, lt), ob, lt, okB, "<= 1.15", le(1.15))
		ratio(fmt.Sprintf("read floor / link time (%.2f s)", lt), rf, lt, okR, "", nil)
		if pl, ok := wall("ours", "plan"); ok && okB {
			ratio("ours bundle less its plan (--dry-run: manifests, configs, tokens) / link time: the pulls alone", ob-pl, lt, true, "", nil)
		}
	}
	for _, peer := range []struct {
		path, target string
		pass         func(float64) bool
	}{{"crane", packTarget, le(packMax)}, {"regctl", "", nil}, {"skopeo", "", nil}} {
		d, ok := wall(peer.path, "pack")
		ratio("ours bundle / "+peer.path+" pack", ob, d, ok && okB, peer.target, peer.pass)
	}
	if or, ok := wall("ours", "resume"); ok && okB {
		pulled, _ := b.agg(key{"ours", "resume"}).medianInt(func(r result) int64 { return r.pulled })
		ratio(fmt.Sprintf("ours resume after a kill at 50 %% / ours bundle (the rerun pulled %s MiB)", mib(pulled)), or, ob, true, "<= 0.6", le(0.6))
	}
	if sb, ok := wall("ours", "split bundle"); ok && okB {
		ratio(fmt.Sprintf("ours split bundle (parts of %s MiB) / ours bundle", mib(b.splitSize())), sb, ob, true, "<= 1.05", le(1.05))
	}
	if su, ok := wall("ours", "split unbundle"); ok && okU {
		ratio("ours split unbundle (push from the parts in place) / ours unbundle", su, ou, true, "<= 1.05", le(1.05))
	}
	if pb, ok := wall("ours", "parity bundle"); ok {
		sb, okS := wall("ours", "split bundle")
		ratio("ours parity bundle (2 parity parts) / ours split bundle: parity's cost in time", pb, sb, okS, "", nil)
		pa, okP := b.agg(key{"ours", "parity bundle"}).medianInt(func(r result) int64 { return r.archive })
		sa, okA := b.agg(key{"ours", "split bundle"}).medianInt(func(r result) int64 { return r.archive })
		ratio(fmt.Sprintf("ours parity bundle bytes / split bundle bytes: parity's cost in bytes (%s MiB more)", mib(pa-sa)), float64(pa), float64(sa), okP && okA, "", nil)
	}
	d, okD := wall("direct", "copy")
	ratio("(ours bundle + ours unbundle) / direct crane copy", ob+ou, d, okD && okB && okU, "<= 0.75", le(0.75))
	for _, path := range []string{"ours", "crane", "regctl", "skopeo", "direct", "floor"} {
		ph := map[string]string{"ours": "unbundle", "direct": "copy", "floor": "uploads+mounts"}[path]
		if ph == "" {
			ph = "unpack+push"
		}
		if !b.cfg.paths[path] {
			continue
		}
		up, ok := b.agg(key{path, ph}).medianInt(func(r result) int64 { return r.uploaded })
		var target string
		var pass func(float64) bool // only ours has a target
		if path == "ours" {
			target, pass = "= 1", func(v float64) bool { return v > 0.9995 && v < 1.0005 }
		}
		ratio(path+" bytes uploaded / unique blob bytes", float64(up), float64(unique), ok && unique > 0, target, pass)
	}
	arch, okA := b.agg(key{"ours", "bundle"}).medianInt(func(r result) int64 { return r.archive })
	ratio("our bundle bytes / zstd -3 of a tar of the unique blobs", float64(arch), float64(b.refZst), okA && b.refZst > 0 && b.cfg.paths["ours"], "<= 1.002", le(1.002))
	ratio("our bundle bytes / the unique blobs' sum", float64(arch), float64(unique), okA && unique > 0 && b.cfg.paths["ours"], "", nil)
	ratio("zstd -3 of a tar of the unique blobs / the unique blobs' sum", float64(b.refZst), float64(unique), b.refZst > 0 && unique > 0, "", nil)
	for _, peer := range []string{"crane", "regctl", "skopeo"} {
		pa, ok := b.agg(key{peer, "pack"}).medianInt(func(r result) int64 { return r.archive })
		ratio(peer+" archive bytes / zstd -3 of a tar of the unique blobs", float64(pa), float64(b.refZst), ok && b.refZst > 0 && b.cfg.paths[peer], "", nil)
	}
	if b.cfg.paths["ours"] {
		for _, ph := range []string{"bundle", "unbundle"} {
			v, ok := b.agg(key{"ours", ph}).maxInt(func(r result) int64 { return r.rss })
			if ok {
				verdict := "ok"
				if v > 256<<10 {
					verdict = "miss"
				}
				p("| ours %s peak RSS, MiB | %.0f | <= 256 | %s |\n", ph, float64(v)/1024, verdict)
			}
		}
		ex, okE := b.agg(key{"ours", "unbundle"}).maxInt(func(r result) int64 { return r.extraDisk })
		ratio("ours extra disk on the bastion / bundle bytes", float64(ex), float64(arch), okE && okA, "<= 0.01", le(0.01))
	}

	p("%s", b.issue21())

	p("\n## Every run\n\n")
	p("| path | phase | wall s per run |\n|---|---|---|\n")
	for _, path := range allPaths {
		if !b.cfg.paths[path] {
			continue
		}
		for _, ph := range phasesOf[path] {
			if b.cfg.skips(ph) {
				continue
			}
			var xs []string
			for _, r := range b.results[key{path, ph}] {
				switch {
				case r.skipped:
					xs = append(xs, "skipped")
				case r.err != nil:
					xs = append(xs, fmt.Sprintf("failed (%.2f)", r.wall.Seconds()))
				default:
					xs = append(xs, fmt.Sprintf("%.2f", r.wall.Seconds()))
				}
			}
			p("| %s | %s | %s |\n", path, ph, strings.Join(xs, ", "))
		}
	}

	var mism []string
	for _, path := range allPaths {
		for _, ph := range phasesOf[path] {
			rs := b.results[key{path, ph}]
			for _, r := range rs {
				if len(r.bad) > 0 {
					s := fmt.Sprintf("- %s %s: %d tag(s) not at the upstream digest, e.g. %s", path, ph, len(r.bad), strings.Join(r.bad[:min(3, len(r.bad))], "; "))
					mism = append(mism, s)
					break
				}
			}
		}
	}
	var fails []string
	for _, path := range allPaths {
		for _, ph := range phasesOf[path] {
			for i, r := range b.results[key{path, ph}] {
				if r.err != nil {
					fails = append(fails, fmt.Sprintf("- %s %s, run %d: %s", path, ph, i+1, strings.ReplaceAll(r.err.Error(), "\n", " ")))
				}
			}
		}
	}
	if len(mism) > 0 || len(fails) > 0 {
		p("\n## Failures and digest mismatches\n\n")
		for _, s := range append(fails, mism...) {
			p("%s\n", s)
		}
	}

	p("\n## How each path is driven\n\n")
	p("Every phase runs as subprocesses (the floor excepted), each in its own process group under a %s timeout, with HOME and DOCKER_CONFIG pointing at an empty per-run directory and TMPDIR on the measured side. Registries are in this process on 127.0.0.1, plain HTTP, and every tool reaches them over loopback. The runs interleave the paths (run 1 of every path, then run 2...), after an untimed warm-up `bundle create` that puts the upstream files in the page cache; no cache is dropped between paths.\n\n", b.cfg.timeout)
	jobs := "their default"
	if b.cfg.jobs > 0 {
		jobs = fmt.Sprint(b.cfg.jobs)
	}
	p("- **ours**: `bundle create --images LIST --output B.tar.zst` (writes, fsyncs, renames), then `unbundle push --registry DEST --configmap FILE B.tar.zst` straight from the bundle; --jobs %s. Then the same create with `--split-size %d` (parts of a fifth of the unique blob bytes; split bundle), `unbundle push DIR` from those parts in place into a fresh registry (split unbundle), and the create with `--split-size %d --parity 2` (parity bundle; archive = every part, parity included).\n", jobs, b.splitSize(), b.splitSize())
	p("- **crane**: pack = one `crane pull --insecure --format=oci --annotate-ref REF... DIR`, `tar -C DIR -cf - . | zstd -T0 -3 -q -o B.tar.zst`, `sync B.tar.zst`. unpack+push = `zstd -dc B.tar.zst | tar -x -C DIR2`, then per image `crane push --insecure ONE DEST/path:tag`, where ONE is a one-image layout (its oci-layout, an index.json holding that image's descriptor verbatim, and `blobs` a symbolic link to DIR2/blobs): crane push refuses a layout of several images and cannot select one.\n")
	p("- **regctl**: `regctl registry set --tls disabled HOST` for both registries (untimed); pack = `regctl image copy REF ocidir://DIR:iNN` per image, then tar | zstd and sync as crane; unpack+push = extract, then `regctl image copy ocidir://DIR2@DIGEST DEST/path:tag` per image.\n")
	p("- **skopeo**: pack = `skopeo --insecure-policy copy --all --src-tls-verify=false docker://REF oci:DIR:iNN` per image, tar | zstd, sync; unpack+push = extract, then `skopeo --insecure-policy copy --all --dest-tls-verify=false oci:DIR2:iNN docker://DEST/path:tag` per image. skopeo rewrites Docker-typed manifests as OCI when it writes a layout: those images change digest. Its blob-info cache (kept in the run's HOME: `_CONTAINERS_ROOTLESS_UID` and `XDG_DATA_HOME` steer it away from /var/lib/containers/cache as root) lets it mount what earlier images of the same run uploaded.\n")
	p("- **direct**: `crane copy --insecure SRC DEST/path:tag` per image, registry to registry.\n")
	p("- **floor**: in-process net/http, reading the blobs from files extracted once from our bundle with `zstd -dc | tar -x` (untimed): every unique config and layer uploaded once, POST then one PUT with ?digest=, %d at a time, largest first, into the first repository that needs it; then one `POST ?mount=&from=` per other (repository, blob) pair, %d at a time (uploads+mounts); then every manifest PUT, children first (manifests).\n", b.cfg.floorJobs, b.cfg.floorJobs)
	p("- Per-image peer commands run %d at a time (-peer-jobs); a peer's pulls into one layout always run one at a time.\n", b.cfg.peerJobs)
	if b.timeBin != "" {
		p("- Peak RSS is GNU time's %%M (%s) around every subprocess: ru_maxrss from wait4 of the child it forks. For a `bash -o pipefail -c 'a | b'` pipeline that is the maximum over bash and the children it waited for, not their sum; over a phase it is the largest of its processes. Not os/exec's own ProcessState.SysUsage: Linux folds the parent's high-water RSS into an exec'd child's ru_maxrss, so from this process (which holds the registries) even /bin/true would show the bench's peak. The in-process floor has none.\n", b.timeVersion)
	} else {
		p("- Peak RSS is ru_maxrss from wait4 (os/exec ProcessState.SysUsage; GNU time was not found): **it includes the bench process's own peak**, which Linux folds into an exec'd child's ru_maxrss, so it overstates small processes. For a pipeline it is the maximum over the shell and its children, not their sum.\n")
	}
	p("- Extra disk samples the bastion directories (the unpack+push commands' working directory and TMPDIR) every 200 ms and at the end, counting allocated blocks; the ConfigMap is written elsewhere. Digests kept: after each run, `remote.Head` of every destination tag against the upstream digest.\n")
	return w.String()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

func readTrim(p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}
