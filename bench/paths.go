package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

const refNameAnnotation = "org.opencontainers.image.ref.name"

// key names one measured phase of one path.
type key struct{ path, phase string }

// phasesOf lists each path's phases, in order.
var phasesOf = map[string][]string{
	"ours":   {"bundle", "plan", "since", "resume", "unbundle", "unbundle alt", "split bundle", "split unbundle", "parity bundle"},
	"crane":  {"pull", "pack", "unpack+push"},
	"regctl": {"pull", "pack", "unpack+push"},
	"skopeo": {"pull", "pack", "unpack+push"},
	"direct": {"copy"},
	"floor":  {"read", "uploads+mounts", "manifests"},
}

// result is one phase of one run.
type result struct {
	wall      time.Duration
	rss       int64         // KiB, -1 when not measured (in-process)
	uploaded  int64         // blob bytes the destination received; -1 n/a
	extraDisk int64         // peak bytes written on the bastion side besides the bundle; -1 n/a
	archive   int64         // bundle bytes; -1 n/a
	pulled    int64         // blob bytes the upstream served; -1 n/a
	requests  int64         // requests the upstream served (token requests included); -1 n/a
	tokens    int64         // of which token requests
	cpu       time.Duration // CPU time of the phase's commands (user + system); -1 in process
	selfCPU   time.Duration // CPU time of the bench process meanwhile: the registries (and a floor)
	// killed is, for resume, the blob bytes the killed run received before the kill; -1 n/a
	killed  int64
	kept    int // tags resolving to the upstream digest
	total   int // 0: not checked in this phase
	bad     []string
	err     error
	skipped bool // an earlier phase failed
}

func newResult() result {
	return result{rss: -1, uploaded: -1, extraDisk: -1, archive: -1, pulled: -1, requests: -1, cpu: -1, killed: -1}
}

// upstreamCounts returns a function that sets r's pulled bytes and requests since the call.
func (b *bench) upstreamCounts() func(r *result) {
	bytes, reqs := b.upstream.BlobBytesSent(), b.upstream.Requests()
	toks, _ := b.upstream.TokenRequests()
	return func(r *result) {
		t, _ := b.upstream.TokenRequests()
		r.pulled, r.requests, r.tokens = b.upstream.BlobBytesSent()-bytes, b.upstream.Requests()-reqs, t-toks
	}
}

func failed(err error) result {
	r := newResult()
	r.err = err
	return r
}

// env is one run of one path: a fresh destination registry and the directories of both sides.
// The bastion side is work (the current directory of the unpack+push commands) and tmp (their
// TMPDIR): what is written there is the extra disk. The bundle itself sits in transfer.
type env struct {
	dir      string
	pack     string // connected side scratch (the peers' pulled layout)
	packTmp  string
	transfer string // the bundle
	work     string // bastion side
	tmp      string
	out      string // the ConfigMap (the product, not counted as extra disk)
	home     string // HOME and DOCKER_CONFIG of every subprocess: no host configuration leaks in
	dest     *testregistry.Registry
	keep     bool
}

func (b *bench) newEnv(ctx context.Context, path string, run int) (*env, error) {
	dir, err := os.MkdirTemp(b.root, fmt.Sprintf("%s-run%d-", path, run))
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, keep: b.cfg.keep}
	for _, d := range []struct {
		p    *string
		name string
	}{{&e.pack, "pack"}, {&e.packTmp, "pack-tmp"}, {&e.transfer, "transfer"}, {&e.work, "bastion"}, {&e.tmp, "bastion-tmp"}, {&e.out, "out"}, {&e.home, "home"}} {
		*d.p = filepath.Join(dir, d.name)
		if err := os.MkdirAll(*d.p, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if e.dest, err = testregistry.Start(ctx, filepath.Join(dir, "dest")); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("destination registry: %w", err)
	}
	return e, nil
}

func (e *env) close() {
	e.dest.Close()
	if !e.keep {
		os.RemoveAll(e.dir)
	}
}

// vars is the environment of a subprocess whose temporary files go to tmp.
func (e *env) vars(tmp string) []string {
	return []string{"HOME=" + e.home, "DOCKER_CONFIG=" + filepath.Join(e.home, ".docker"), "TMPDIR=" + tmp}
}

func (b *bench) runPath(ctx context.Context, p string, run int) {
	b.logf("run %d/%d: %s", run, b.cfg.runs, p)
	var res map[string]result
	e, err := b.newEnv(ctx, p, run)
	if err != nil {
		res = map[string]result{phasesOf[p][0]: failed(err)}
	} else {
		switch p {
		case "ours":
			res = b.ours(ctx, e)
		case "crane":
			res = b.crane(ctx, e)
		case "regctl":
			res = b.regctl(ctx, e)
		case "skopeo":
			res = b.skopeo(ctx, e)
		case "direct":
			res = b.direct(ctx, e)
		case "floor":
			res = b.floorRun(ctx, e)
		}
		e.close()
	}
	for _, ph := range phasesOf[p] {
		if b.cfg.skips(ph) {
			continue
		}
		r, ok := res[ph]
		if !ok {
			r = newResult()
			r.skipped = true
		}
		b.results[key{p, ph}] = append(b.results[key{p, ph}], r)
		switch {
		case r.skipped:
			b.logf("  %-14s skipped", ph)
		case r.err != nil:
			b.logf("  %-14s FAILED after %.1fs: %v", ph, r.wall.Seconds(), r.err)
		default:
			line := fmt.Sprintf("  %-14s %7.2fs", ph, r.wall.Seconds())
			if r.rss >= 0 {
				line += fmt.Sprintf("  rss %s MiB", mib(r.rss<<10))
			}
			if r.uploaded >= 0 {
				line += fmt.Sprintf("  uploaded %s MiB", mib(r.uploaded))
			}
			if r.archive >= 0 {
				line += fmt.Sprintf("  archive %s MiB", mib(r.archive))
			}
			if r.pulled >= 0 {
				line += fmt.Sprintf("  pulled %s MiB", mib(r.pulled))
			}
			if r.requests >= 0 {
				line += fmt.Sprintf("  upstream requests %d (tokens %d)", r.requests, r.tokens)
			}
			if r.extraDisk >= 0 {
				line += fmt.Sprintf("  extra disk %s MiB", mib(r.extraDisk))
			}
			if r.total > 0 {
				line += fmt.Sprintf("  digests kept %d/%d", r.kept, r.total)
			}
			b.logf("%s", line)
		}
		for i, s := range r.bad {
			if i == 3 {
				b.logf("    ... %d more", len(r.bad)-i)
				break
			}
			b.logf("    digest: %s", s)
		}
	}
}

// pushPhase measures an unpack+push (or copy) phase: wall time, peak RSS, blob bytes the
// destination received, peak disk of the bastion directories; then checks every tag.
func (b *bench) pushPhase(ctx context.Context, e *env, body func(ph *phase) error) result {
	before := e.dest.BlobBytesReceived()
	stop := sampleDisk(e.work, e.tmp)
	ph := b.phase()
	err := body(ph)
	r := ph.done(err)
	r.extraDisk = stop()
	r.uploaded = e.dest.BlobBytesReceived() - before
	if ctx.Err() == nil {
		r.kept, r.total, r.bad = b.checkDigests(ctx, e.dest.Host)
	}
	return r
}

// peerPack runs fill (which pulls every image into the layout directory), then packs the layout
// as a user would: tar | zstd -T0 -3, then sync the file, because our bundle is fsynced before
// its rename. It records the pull alone (res["pull"]: what the issues compare bundle create
// with) and the whole (res["pack"]). The pulled layout is removed afterwards, outside the
// timing.
func (b *bench) peerPack(ctx context.Context, e *env, res map[string]result, bundle, layout string, fill func(ph *phase) error) {
	ph := b.phase()
	counts := b.upstreamCounts()
	err := fill(ph)
	pull := ph.done(err)
	counts(&pull)
	res["pull"] = pull
	if err == nil {
		err = ph.run(ctx, proc{argv: pipeline(`tar -C "$1" -cf - . | zstd -T0 -3 -q -o "$2"`, layout, bundle), dir: e.pack, env: e.vars(e.packTmp)})
	}
	if err == nil {
		err = ph.run(ctx, proc{argv: []string{b.tools["sync"].path, bundle}, dir: e.pack})
	}
	r := ph.done(err)
	counts(&r)
	r.archive = fileSize(bundle)
	res["pack"] = r
	os.RemoveAll(layout)
}

// extract unpacks a bundle on the bastion side: zstd -dc | tar -x.
func (b *bench) extract(ctx context.Context, ph *phase, e *env, bundle, dir string) error {
	return ph.run(ctx, proc{argv: pipeline(`mkdir -p "$2" && zstd -dcq "$1" | tar -x -C "$2"`, bundle, dir), dir: e.work, env: e.vars(e.tmp)})
}

// layoutEntry is one descriptor of an OCI layout's index.json, with its raw bytes.
type layoutEntry struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	raw         json.RawMessage
}

func readLayoutIndex(dir string) ([]layoutEntry, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	var idx struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s/index.json: %w", dir, err)
	}
	var out []layoutEntry
	for _, raw := range idx.Manifests {
		var e layoutEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("%s/index.json: %w", dir, err)
		}
		e.raw = raw
		out = append(out, e)
	}
	return out, nil
}

// byName finds the entry a tool stored under name (regctl and skopeo write the tag given to
// them as the ref.name annotation; accept a full reference ending in :name too).
func byName(entries []layoutEntry, name string) (layoutEntry, error) {
	for _, e := range entries {
		if n := e.Annotations[refNameAnnotation]; n == name || strings.HasSuffix(n, ":"+name) {
			return e, nil
		}
	}
	return layoutEntry{}, fmt.Errorf("no image named %q in the layout's index.json", name)
}

// oneImageLayout makes dir an OCI layout holding only entry: its own oci-layout and index.json,
// and blobs as a symbolic link to the full layout's blobs (no copy, no extra disk).
func oneImageLayout(dir, full string, entry layoutEntry) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}`, entry.raw)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(idx), 0o644); err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, filepath.Join(full, "blobs"))
	if err != nil {
		return err
	}
	return os.Symlink(rel, filepath.Join(dir, "blobs"))
}

// crane: one `crane pull --format=oci` of every ref (crane pull takes several refs; with
// --annotate-ref each index.json entry carries its source reference, which is how the push
// side knows where each image goes).
//
// Push: `crane push DIR REF` reads an OCI layout but refuses one that holds more than one
// image ("consider --index", which would push the whole layout as a single new index: wrong
// digests, wrong repositories), and crane has no selector for one image of a layout (crane copy
// and crane index only talk to registries). So, as a crane user would script it, each image gets
// a one-image layout: its own oci-layout and index.json (that one descriptor, copied verbatim)
// and a symbolic link to the extracted blobs directory, then `crane push --insecure ONE REF`.
// The images are pushed one after the other (-peer-jobs to change that), each push uploading
// its layers with crane's default concurrency.
func (b *bench) crane(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	tl, err := b.need("crane", "zstd", "tar", "sync")
	if err != nil {
		res["pack"] = failed(err)
		return res
	}
	crane := tl[0]
	bundle := filepath.Join(e.transfer, "crane.tar.zst")
	layout := filepath.Join(e.pack, "layout")
	b.peerPack(ctx, e, res, bundle, layout, func(ph *phase) error {
		argv := []string{crane, "pull", "--insecure", "--format=oci", "--annotate-ref"}
		for _, r := range b.refs {
			argv = append(argv, r.Src)
		}
		argv = append(argv, layout)
		return ph.run(ctx, proc{argv: argv, dir: e.pack, env: e.vars(e.packTmp)})
	})
	if res["pack"].err != nil || b.cfg.skips("unpack+push") {
		return res
	}
	res["unpack+push"] = b.pushPhase(ctx, e, func(ph *phase) error {
		dir := filepath.Join(e.work, "layout")
		if err := b.extract(ctx, ph, e, bundle, dir); err != nil {
			return err
		}
		entries, err := readLayoutIndex(dir)
		if err != nil {
			return err
		}
		var ps []proc
		for i, ent := range entries {
			r := b.bySrc[ent.Annotations[refNameAnnotation]]
			if r == nil {
				return fmt.Errorf("index.json entry %s: ref.name %q is none of the fixture's refs", ent.Digest, ent.Annotations[refNameAnnotation])
			}
			one := filepath.Join(e.work, fmt.Sprintf("push-%02d", i+1))
			if err := oneImageLayout(one, dir, ent); err != nil {
				return err
			}
			ps = append(ps, proc{argv: []string{crane, "push", "--insecure", one, r.dest(e.dest.Host)}, dir: e.work, env: e.vars(e.tmp)})
		}
		if len(ps) != len(b.refs) {
			return fmt.Errorf("the layout holds %d images, want %d", len(ps), len(b.refs))
		}
		return ph.runAll(ctx, ps, b.cfg.peerJobs)
	})
	return res
}

// regctl: `regctl image copy REF ocidir://DIR:iNN` per image into one layout (no --referrers;
// whole indexes are copied by default), tar | zstd, sync; on the bastion, extract and
// `regctl image copy ocidir://DIR@DIGEST DEST/path:tag` per image. Plain HTTP to the loopback
// registries is configured with `regctl registry set --tls disabled HOST` in the run's own
// HOME, before the timing starts. The pulls run one at a time (they share one index.json);
// the pushes one at a time too unless -peer-jobs says otherwise.
func (b *bench) regctl(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	tl, err := b.need("regctl", "zstd", "tar", "sync")
	if err != nil {
		res["pack"] = failed(err)
		return res
	}
	regctl := tl[0]
	for _, host := range []string{b.upstreamHost, e.dest.Host} {
		if _, err := b.exec(ctx, proc{argv: []string{regctl, "registry", "set", "--tls", "disabled", host}, dir: e.home, env: e.vars(e.tmp)}); err != nil {
			res["pack"] = failed(err)
			return res
		}
	}
	bundle := filepath.Join(e.transfer, "regctl.tar.zst")
	layout := filepath.Join(e.pack, "layout")
	b.peerPack(ctx, e, res, bundle, layout, func(ph *phase) error {
		var ps []proc
		for _, r := range b.refs {
			ps = append(ps, proc{argv: []string{regctl, "image", "copy", r.Src, "ocidir://" + layout + ":" + r.Name}, dir: e.pack, env: e.vars(e.packTmp)})
		}
		return ph.runAll(ctx, ps, 1)
	})
	if res["pack"].err != nil || b.cfg.skips("unpack+push") {
		return res
	}
	res["unpack+push"] = b.pushPhase(ctx, e, func(ph *phase) error {
		dir := filepath.Join(e.work, "layout")
		if err := b.extract(ctx, ph, e, bundle, dir); err != nil {
			return err
		}
		entries, err := readLayoutIndex(dir)
		if err != nil {
			return err
		}
		var ps []proc
		for _, r := range b.refs {
			ent, err := byName(entries, r.Name)
			if err != nil {
				return err
			}
			ps = append(ps, proc{argv: []string{regctl, "image", "copy", "ocidir://" + dir + "@" + ent.Digest, r.dest(e.dest.Host)}, dir: e.work, env: e.vars(e.tmp)})
		}
		return ph.runAll(ctx, ps, b.cfg.peerJobs)
	})
	return res
}

// skopeo: `skopeo copy --all docker://REF oci:DIR:iNN` per image into one layout, tar | zstd,
// sync; on the bastion, extract and `skopeo copy --all oci:DIR:iNN docker://DEST/path:tag`.
// --src-tls-verify=false / --dest-tls-verify=false let it fall back to plain HTTP on the
// loopback registries; --insecure-policy spares it /etc/containers/policy.json (it only
// decides whether signatures are required). skopeo converts Docker manifests to OCI when it
// writes a layout, so those images change digest: that is what "digests kept" shows.
func (b *bench) skopeo(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	tl, err := b.need("skopeo", "zstd", "tar", "sync")
	if err != nil {
		res["pack"] = failed(err)
		return res
	}
	skopeo := tl[0]
	// As root, skopeo keeps its blob-info cache (where it has seen each blob, which it uses to
	// mount) in /var/lib/containers/cache, shared by every run and outside the benchmark's
	// directories. Claiming a non-root uid makes it use $XDG_DATA_HOME/containers/cache, in the
	// run's own HOME: every run starts with an empty cache, as on a fresh machine, and learns
	// within the run (so later images mount the blobs earlier ones uploaded).
	vars := func(tmp string) []string {
		return append(e.vars(tmp), "_CONTAINERS_ROOTLESS_UID=65534", "XDG_DATA_HOME="+filepath.Join(e.home, ".local", "share"))
	}
	bundle := filepath.Join(e.transfer, "skopeo.tar.zst")
	layout := filepath.Join(e.pack, "layout")
	b.peerPack(ctx, e, res, bundle, layout, func(ph *phase) error {
		var ps []proc
		for _, r := range b.refs {
			ps = append(ps, proc{argv: []string{skopeo, "--insecure-policy", "copy", "--all", "--quiet", "--src-tls-verify=false",
				"docker://" + r.Src, "oci:" + layout + ":" + r.Name}, dir: e.pack, env: vars(e.packTmp)})
		}
		return ph.runAll(ctx, ps, 1)
	})
	if res["pack"].err != nil || b.cfg.skips("unpack+push") {
		return res
	}
	res["unpack+push"] = b.pushPhase(ctx, e, func(ph *phase) error {
		dir := filepath.Join(e.work, "layout")
		if err := b.extract(ctx, ph, e, bundle, dir); err != nil {
			return err
		}
		var ps []proc
		for _, r := range b.refs {
			ps = append(ps, proc{argv: []string{skopeo, "--insecure-policy", "copy", "--all", "--quiet", "--dest-tls-verify=false",
				"oci:" + dir + ":" + r.Name, "docker://" + r.dest(e.dest.Host)}, dir: e.work, env: vars(e.tmp)})
		}
		return ph.runAll(ctx, ps, b.cfg.peerJobs)
	})
	return res
}

// direct: `crane copy --insecure SRC DEST` per ref, registry to registry, no archive: the
// lower bound of a connected copy, and what bundle + unbundle is measured against.
func (b *bench) direct(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	tl, err := b.need("crane")
	if err != nil {
		res["copy"] = failed(err)
		return res
	}
	r := b.pushPhase(ctx, e, func(ph *phase) error {
		var ps []proc
		for _, r := range b.refs {
			ps = append(ps, proc{argv: []string{tl[0], "copy", "--insecure", r.Src, r.dest(e.dest.Host)}, dir: e.work, env: e.vars(e.tmp)})
		}
		return ph.runAll(ctx, ps, b.cfg.peerJobs)
	})
	r.extraDisk = -1 // no bastion side
	res["copy"] = r
	return res
}

var errNoPlan = errors.New("no upload plan: preparing our bundle failed")
