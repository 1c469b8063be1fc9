package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// The upload floor: what the destination registry can take at best, measured the way issue 3
// measured it. Every unique blob (config or layer) is uploaded once, from a plain file, with a
// monolithic upload (POST /v2/<repo>/blobs/uploads/, then one PUT of the whole body with
// ?digest=), -floor-jobs at a time, largest first, to the first repository that needs it; then
// every other (repository, blob) pair is one cross-repository mount (POST ?mount=&from=).
// "uploads+mounts" is the wall time of both together. The manifests are PUT afterwards, timed
// apart ("manifests"), so that the tags can be checked like every other path's.

type floorBlob struct {
	digest string
	size   int64
	file   string
	repo   string // the first repository that needs it
}

type floorMount struct{ repo, digest, from string }

type floorManifest struct{ repo, reference, mediaType, file string }

type floorPlan struct {
	blobs       []floorBlob // largest first
	mounts      []floorMount
	manifests   []floorManifest // children before the indexes that name them
	uniqueBytes int64           // configs and layers, each once
	pairBytes   int64           // configs and layers, once per repository that needs them
	pairs       int
	repos       int
}

// prepare bundles the fixture once with our bundle (untimed), extracts it with zstd | tar
// as any user could, plans the floor from the extracted layout and measures the reference
// size: zstd -3 over a tar of the extracted blobs directory alone.
func (b *bench) prepare(ctx context.Context) {
	b.prepErr = b.doPrepare(ctx)
	if b.prepErr != nil {
		b.logf("preparation failed: %v", b.prepErr)
	}
}

func (b *bench) doPrepare(ctx context.Context) error {
	dir := filepath.Join(b.root, "prep")
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	vars := []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "TMPDIR=" + dir}
	bundle := filepath.Join(dir, "ess.tar.zst")
	b.logf("preparing (untimed): bundle create as a warm-up, then zstd -dc | tar -x of it for the upload floor")
	t0 := time.Now()
	if _, err := b.exec(ctx, proc{argv: []string{b.bundle, "create", "--images", b.directList, "--output", bundle}, dir: dir, env: vars}); err != nil {
		return err
	}
	b.logf("  warm-up bundle create: %.1fs", time.Since(t0).Seconds())
	if _, err := b.need("zstd", "tar"); err != nil {
		return err
	}
	layout := filepath.Join(dir, "layout")
	if _, err := b.exec(ctx, proc{argv: pipeline(`mkdir -p "$2" && zstd -dcq "$1" | tar -x -C "$2"`, bundle, layout), dir: dir, env: vars}); err != nil {
		return err
	}
	os.Remove(bundle)
	os.Remove(bundle + ".sha256")
	plan, err := planFloor(layout, b.bySrc)
	if err != nil {
		return err
	}
	b.floor = plan
	ref := filepath.Join(dir, "blobs.tar.zst")
	if _, err := b.exec(ctx, proc{argv: pipeline(`tar -C "$1" -cf - blobs | zstd -T0 -3 -q -o "$2"`, layout, ref), dir: dir, env: vars}); err != nil {
		return err
	}
	b.refZst = fileSize(ref)
	os.Remove(ref)
	if b.cfg.layers == "real" {
		b.logf("  compressing every layer once more, to see which would be worth it")
		if b.compress, err = studyCompression(plan); err != nil {
			return err
		}
		b.logf("  %s", firstLine(b.compress.markdown()))
	}
	b.logf("  %d unique blobs, %s MiB; %d (repository, blob) pairs, %s MiB; %d mounts; zstd -3 of their tar: %s MiB",
		len(plan.blobs), mib(plan.uniqueBytes), plan.pairs, mib(plan.pairBytes), len(plan.mounts), mib(b.refZst))
	return nil
}

// planFloor walks every image of the layout, from index.json down, in index.json order.
func planFloor(dir string, bySrc map[string]*ref) (*floorPlan, error) {
	entries, err := readLayoutIndex(dir)
	if err != nil {
		return nil, err
	}
	p := &floorPlan{}
	first := map[string]int{} // digest -> index in p.blobs
	pairSeen := map[string]bool{}
	putSeen := map[string]bool{}
	repos := map[string]bool{}
	blobFile := func(d string) (string, error) {
		alg, hex, ok := strings.Cut(d, ":")
		if !ok || alg != "sha256" || len(hex) != 64 || strings.ContainsAny(hex, "/.") {
			return "", fmt.Errorf("bad digest %q", d)
		}
		return filepath.Join(dir, "blobs", alg, hex), nil
	}
	need := func(repo, d string, size int64) error {
		if pairSeen[repo+"@"+d] {
			return nil
		}
		pairSeen[repo+"@"+d] = true
		p.pairs++
		p.pairBytes += size
		if i, ok := first[d]; ok {
			p.mounts = append(p.mounts, floorMount{repo: repo, digest: d, from: p.blobs[i].repo})
			return nil
		}
		f, err := blobFile(d)
		if err != nil {
			return err
		}
		if got := fileSize(f); got != size {
			return fmt.Errorf("blob %s: %d bytes on disk, its descriptor says %d", d, got, size)
		}
		first[d] = len(p.blobs)
		p.blobs = append(p.blobs, floorBlob{digest: d, size: size, file: f, repo: repo})
		p.uniqueBytes += size
		return nil
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var walk func(repo, reference, digest, mediaType string) error
	walk = func(repo, reference, digest, mediaType string) error {
		f, err := blobFile(digest)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var doc struct {
			MediaType string `json:"mediaType"`
			Config    *desc  `json:"config"`
			Layers    []desc `json:"layers"`
			Manifests []desc `json:"manifests"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %w", digest, err)
		}
		for _, c := range doc.Manifests {
			if err := walk(repo, c.Digest, c.Digest, c.MediaType); err != nil {
				return err
			}
		}
		if doc.Config != nil {
			if err := need(repo, doc.Config.Digest, doc.Config.Size); err != nil {
				return err
			}
		}
		for _, l := range doc.Layers {
			if err := need(repo, l.Digest, l.Size); err != nil {
				return err
			}
		}
		if mediaType == "" {
			mediaType = doc.MediaType
		}
		if !putSeen[repo+"/"+reference] {
			putSeen[repo+"/"+reference] = true
			p.manifests = append(p.manifests, floorManifest{repo: repo, reference: reference, mediaType: mediaType, file: f})
		}
		return nil
	}
	for _, e := range entries {
		r := bySrc[e.Annotations[refNameAnnotation]]
		if r == nil {
			return nil, fmt.Errorf("index.json entry %s: ref.name %q is none of the fixture's refs", e.Digest, e.Annotations[refNameAnnotation])
		}
		repos[r.Path] = true
		reference := r.Tag
		if reference == "" {
			reference = r.Digest
		}
		if err := walk(r.Path, reference, e.Digest, e.MediaType); err != nil {
			return nil, err
		}
	}
	distinct := map[*ref]bool{}
	for _, r := range bySrc {
		distinct[r] = true
	}
	if len(entries) != len(distinct) {
		return nil, fmt.Errorf("our bundle holds %d images, the fixture %d", len(entries), len(distinct))
	}
	p.repos = len(repos)
	sort.SliceStable(p.blobs, func(i, j int) bool { return p.blobs[i].size > p.blobs[j].size })
	return p, nil
}

// floorRun runs the floor against the run's fresh destination.
func (b *bench) floorRun(ctx context.Context, e *env) map[string]result {
	res := map[string]result{}
	if b.floor == nil {
		err := b.prepErr
		if err == nil {
			err = errNoPlan
		}
		res["uploads+mounts"] = failed(fmt.Errorf("%w: %v", errNoPlan, err))
		return res
	}
	res["read"] = b.readFloor(ctx, e)
	if b.cfg.skips("uploads+mounts") {
		return res
	}
	base := &url.URL{Scheme: "http", Host: e.dest.Host}
	before := e.dest.BlobBytesReceived()
	var files []string
	for _, bl := range b.floor.blobs {
		files = append(files, bl.file)
	}
	b.dropCache(files...)
	_, stop := b.tracePhase("upload floor")
	ph := b.phase()
	start := ph.start
	err := parallel(ctx, b.cfg.floorJobs, len(b.floor.blobs), func(ctx context.Context, i int) error {
		return b.floorUpload(ctx, base, b.floor.blobs[i])
	})
	uploads := time.Since(start)
	stop()
	if err == nil {
		err = parallel(ctx, b.cfg.floorJobs, len(b.floor.mounts), func(ctx context.Context, i int) error {
			m := b.floor.mounts[i]
			u := base.JoinPath("v2", m.repo, "blobs", "uploads") // JoinPath drops the trailing slash
			u.Path += "/"
			u.RawQuery = url.Values{"mount": {m.digest}, "from": {m.from}}.Encode()
			return b.do(ctx, http.MethodPost, u.String(), nil, 0, "", http.StatusCreated, nil)
		})
	}
	r := ph.inProcess(err)
	r.uploaded = e.dest.BlobBytesReceived() - before
	r.bad = nil
	res["uploads+mounts"] = r
	b.logf("  floor: uploads %.2fs, %d mounts %.2fs", uploads.Seconds(), len(b.floor.mounts), (r.wall - uploads).Seconds())
	if err != nil {
		return res
	}
	ph = b.phase()
	for _, m := range b.floor.manifests {
		data, rerr := os.ReadFile(m.file)
		if rerr != nil {
			err = rerr
			break
		}
		u := base.JoinPath("v2", m.repo, "manifests", m.reference)
		if err = b.do(ctx, http.MethodPut, u.String(), bytes.NewReader(data), int64(len(data)), m.mediaType, http.StatusCreated, nil); err != nil {
			break
		}
	}
	mr := ph.inProcess(err)
	if ctx.Err() == nil {
		mr.kept, mr.total, mr.bad = b.checkDigests(ctx, e.dest.Host)
	}
	res["manifests"] = mr
	return res
}

// floorUpload is one monolithic upload: POST, then one PUT of the file with ?digest=.
func (b *bench) floorUpload(ctx context.Context, base *url.URL, bl floorBlob) error {
	u := base.JoinPath("v2", bl.repo, "blobs", "uploads")
	u.Path += "/"
	var loc string
	if err := b.do(ctx, http.MethodPost, u.String(), nil, 0, "", http.StatusAccepted, func(h http.Header) { loc = h.Get("Location") }); err != nil {
		return err
	}
	lu, err := url.Parse(loc)
	if err != nil || loc == "" {
		return fmt.Errorf("upload of %s: bad Location %q", bl.digest, loc)
	}
	lu = base.ResolveReference(lu)
	q := lu.Query()
	q.Set("digest", bl.digest)
	lu.RawQuery = q.Encode()
	f, err := os.Open(bl.file)
	if err != nil {
		return err
	}
	defer f.Close()
	return b.do(ctx, http.MethodPut, lu.String(), f, bl.size, "application/octet-stream", http.StatusCreated, nil)
}

// do sends one request and wants status want.
func (b *bench) do(ctx context.Context, method, u string, body io.Reader, size int64, ctype string, want int, hdr func(http.Header)) error {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if body == nil {
		req.ContentLength = 0
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s (want %d): %s", method, u, resp.Status, want, firstLine(string(msg)))
	}
	if hdr != nil {
		hdr(resp.Header)
	}
	return nil
}

// parallel runs f(0..n-1), jobs at a time, in order of i; the first error cancels the rest.
func parallel(ctx context.Context, jobs, n int, f func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i := 0; i < n; i++ {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(gctx, i) })
	}
	return g.Wait()
}
