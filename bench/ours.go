package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// ours: bundle create, then a create killed half way and resumed, then unbundle push straight
// from the bundle.
func (b *bench) ours(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	bundle := filepath.Join(e.transfer, "ess.tar.zst")
	create := func(out string) proc {
		argv := []string{b.bundle, "create", "--images", b.list, "--output", out}
		if b.cfg.jobs > 0 {
			argv = append(argv, "--jobs", fmt.Sprint(b.cfg.jobs))
		}
		return proc{argv: argv, dir: e.pack, env: e.vars(e.packTmp)}
	}
	ph := b.phase()
	counts := b.upstreamCounts()
	penv, stop := b.tracePhase("bundle")
	c := create(bundle)
	c.env = append(c.env, penv...)
	err := ph.run(ctx, c)
	stop()
	r := ph.done(err)
	r.archive = fileSize(bundle)
	counts(&r)
	res["bundle"] = r
	if err != nil {
		return res
	}
	if !b.cfg.skips("since") {
		res["since"] = b.since(ctx, create(filepath.Join(e.transfer, "since.tar.zst")), bundle)
	}
	if !b.cfg.skips("plan") {
		res["plan"] = b.plan(ctx, create(filepath.Join(e.transfer, "plan.tar.zst")))
	}
	if !b.cfg.skips("resume") {
		res["resume"] = b.resume(ctx, create(filepath.Join(e.transfer, "resumed.tar.zst")))
	}
	if b.cfg.skips("unbundle") {
		return res
	}
	argv := []string{b.unbundle, "push", "--registry", e.dest.Host, "--configmap", filepath.Join(e.out, "configmap.yaml")}
	if b.cfg.jobs > 0 {
		argv = append(argv, "--jobs", fmt.Sprint(b.cfg.jobs))
	}
	argv = append(argv, bundle)
	if b.cfg.alt != "" {
		res["unbundle alt"] = b.altPush(ctx, e, argv, bundle)
	}
	b.dropCache(bundle)
	penv, stop = b.tracePhase("unbundle")
	res["unbundle"] = b.pushPhase(ctx, e, func(ph *phase) error {
		return ph.run(ctx, proc{argv: argv, dir: e.work, env: append(e.vars(e.tmp), penv...)})
	})
	stop()
	if res["unbundle"].err == nil && !b.cfg.skips("split bundle") {
		b.oursSplit(ctx, e, res, create)
	}
	return res
}

// altPush pushes the bundle with the -alt binary into a fresh registry, as ours.
func (b *bench) altPush(ctx context.Context, e *env, argv []string, bundle string) result {
	dest, err := testregistry.Start(ctx, filepath.Join(e.dir, "dest-alt"))
	if err != nil {
		return failed(err)
	}
	defer dest.Close()
	defer os.RemoveAll(filepath.Join(e.dir, "dest-alt"))
	ea := *e
	ea.dest = dest
	alt := append([]string{b.cfg.alt}, argv[1:]...)
	alt[slices.Index(alt, "--registry")+1] = dest.Host
	b.dropCache(bundle)
	return b.pushPhase(ctx, &ea, func(ph *phase) error {
		return ph.run(ctx, proc{argv: alt, dir: e.work, env: e.vars(e.tmp)})
	})
}

// plan measures bundle create --dry-run: the resolution of every image (manifests, configs,
// tokens) without a layer, the part of a create that the round trips decide.
func (b *bench) plan(ctx context.Context, create proc) result {
	create.argv = append(create.argv, "--dry-run")
	counts := b.upstreamCounts()
	ph := b.phase()
	r := ph.done(ph.run(ctx, create))
	counts(&r)
	return r
}

// since measures the next bundle of an unchanged list made with --since the first: every layer
// is left out, so it costs the manifests, the configs and the round trips. It is removed after.
func (b *bench) since(ctx context.Context, create proc, first string) result {
	out := create.argv[slices.Index(create.argv, "--output")+1]
	defer os.Remove(out)
	defer os.Remove(out + ".sha256")
	create.argv = append(create.argv, "--since", first)
	counts := b.upstreamCounts()
	ph := b.phase()
	r := ph.done(ph.run(ctx, create))
	counts(&r)
	r.archive = fileSize(out)
	return r
}

// splitSize is the --split-size of the split phases: a fifth of the unique blob bytes, so that
// the bundle is in about five parts and the largest layers span two.
func (b *bench) splitSize() int64 { return max(1<<20, b.uniqueBytes()/5) }

// oursSplit: the same bundle in parts (split bundle), pushed from its parts in place into a
// fresh registry (split unbundle), then in parts with two parity parts (parity bundle), whose
// archive is every part, parity included. Each is removed once measured.
func (b *bench) oursSplit(ctx context.Context, e *env, res map[string]result, create func(string) proc) {
	split := func(dir string, parity int) (proc, func()) {
		os.MkdirAll(dir, 0o755)
		p := create(filepath.Join(dir, "ess.tar.zst"))
		p.argv = append(p.argv, "--split-size", fmt.Sprint(b.splitSize()), "--parity", fmt.Sprint(parity))
		return p, func() { os.RemoveAll(dir) }
	}
	dir := filepath.Join(e.transfer, "split")
	p, cleanup := split(dir, 0)
	defer cleanup()
	ph := b.phase()
	r := ph.done(ph.run(ctx, p))
	r.archive = dirSize(dir)
	res["split bundle"] = r
	if r.err != nil {
		return
	}
	dest, err := testregistry.Start(ctx, filepath.Join(e.dir, "dest-split"))
	if err != nil {
		res["split unbundle"] = failed(fmt.Errorf("destination registry: %w", err))
		return
	}
	es := *e
	es.dest = dest
	argv := []string{b.unbundle, "push", "--registry", dest.Host, "--configmap", filepath.Join(e.out, "configmap-split.yaml")}
	if b.cfg.jobs > 0 {
		argv = append(argv, "--jobs", fmt.Sprint(b.cfg.jobs))
	}
	res["split unbundle"] = b.pushPhase(ctx, &es, func(ph *phase) error {
		return ph.run(ctx, proc{argv: append(argv, dir), dir: e.work, env: e.vars(e.tmp)})
	})
	dest.Close()
	cleanup()
	dir = filepath.Join(e.transfer, "parity")
	p, cleanup = split(dir, 2)
	defer cleanup()
	ph = b.phase()
	r = ph.done(ph.run(ctx, p))
	r.archive = dirSize(dir)
	res["parity bundle"] = r
}

// dirSize is the bytes of the bundle files in dir (its parts, parity parts and checksum file).
func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var n int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".sha256") {
			n += fileSize(filepath.Join(dir, e.Name()))
		}
	}
	return n
}

// resume measures the rerun of a bundle create killed with SIGKILL once it received half the
// unique blob bytes (the kill is not timed): on loopback, what the upstream served; behind the
// link, what the link delivered (the registry has sent up to the link's window more, per
// connection). It records what the killed run received and what the rerun pulled, for the
// rerun's bytes against the bytes that were missing. The resumed bundle is removed after.
func (b *bench) resume(ctx context.Context, create proc) result {
	out := create.argv[slices.Index(create.argv, "--output")+1]
	defer os.Remove(out)
	half := b.uniqueBytes() / 2
	if half <= 0 {
		return failed(errors.New("the unique blob bytes are unknown"))
	}
	received := func() int64 { return b.upstream.BlobBytesSent() }
	if b.link != nil {
		received = func() int64 { return b.link.delivered.Load() }
	}
	got := received()
	killed := create
	killed.killWhen = func() bool { return received()-got >= half }
	if _, err := b.exec(ctx, killed); err != nil {
		return failed(fmt.Errorf("the create to kill: %w", err))
	}
	got = received() - got
	base := b.upstream.BlobBytesSent()
	ph := b.phase()
	r := ph.done(ph.run(ctx, create))
	r.pulled = b.upstream.BlobBytesSent() - base
	r.killed = got
	r.archive = fileSize(out)
	return r
}
