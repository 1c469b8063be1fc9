package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// small is a small ESS-like fixture in a registry of its own, and a bundle of it, made once for
// the package's tests.
var (
	smallOnce   sync.Once
	smallUp     *testregistry.Registry
	smallImages []digests.Image
	smallBundle string
	smallErr    error
	smallDir    string
	smallFaults = testregistry.NewFaults(11) // off until a test turns it on
)

func smallWorld(t *testing.T) (*testregistry.Registry, []digests.Image, string) {
	t.Helper()
	smallOnce.Do(func() {
		ctx := context.Background()
		if smallUp, smallErr = testregistry.Start(ctx, filepath.Join(smallDir, "up"), testregistry.WithFaults(smallFaults)); smallErr != nil {
			return
		}
		if smallImages, smallErr = fixture.Generate(ctx, fixture.Options{Registry: smallUp.Host, Size: 4 << 20, Seed: 9}); smallErr != nil {
			return
		}
		smallBundle = filepath.Join(smallDir, "small.tar.zst")
		c := newClient(t)
		_, smallErr = Create(ctx, c, CreateOptions{List: &digests.List{File: "list.yml", Images: smallImages},
			Output: smallBundle, Created: time.Unix(1700000000, 0), Tool: "test"})
	})
	if smallErr != nil {
		t.Fatalf("small world: %v", smallErr)
	}
	return smallUp, smallImages, smallBundle
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mirror-test-")
	if err != nil {
		panic(err)
	}
	smallDir = dir
	code := m.Run()
	if smallUp != nil {
		smallUp.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func newClient(t testing.TB, opts ...oci.Option) *oci.Client {
	t.Helper()
	c, err := oci.New(append([]oci.Option{oci.WithTimeout(2 * time.Second), oci.WithRetry(3, 5*time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// meter is a Progress that checks it never passes its total.
type meter struct {
	total, n atomic.Int64
	over     atomic.Bool
}

func (m *meter) SetTotal(n int64) { m.total.Store(n) }
func (m *meter) Add(n int64) {
	if v := m.n.Add(n); m.total.Load() > 0 && v > m.total.Load() {
		m.over.Store(true)
	}
}

// TestCreatePullsThroughFaults: with 15 % of the upstream's requests failing (5xx,
// resets, truncated bodies), Create retries and writes a bundle that verifies,
// byte-identical to one made without faults.
func TestCreatePullsThroughFaults(t *testing.T) {
	_, images, clean := smallWorld(t)
	f := smallFaults
	defer f.SetRate(0)
	f.SetKinds(testregistry.FaultStatus503, testregistry.FaultReset, testregistry.FaultTruncate) // 429 and its Retry-After: e2e TestFlakyNetwork
	f.SetRate(0.15)
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	m := &meter{}
	res, err := Create(t.Context(), newClient(t, oci.WithRetry(10, time.Minute)), CreateOptions{List: &digests.List{File: "list.yml", Images: images},
		Output: out, Created: time.Unix(1700000000, 0), Tool: "test", Progress: m})
	f.SetRate(0)
	if err != nil {
		t.Fatalf("create through faults %v: %v", f.Injected(), err)
	}
	if len(f.Injected()) == 0 {
		t.Fatal("no fault injected: the test proves nothing")
	}
	if got, err := trust.Verify(t.Context(), out, nil); err != nil || len(got.Bad) > 0 {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	if m.over.Load() {
		t.Error("the progress passed its total")
	}
	if len(res.Manifest.Images) != len(images) {
		t.Fatalf("%d images of %d", len(res.Manifest.Images), len(images))
	}
	// Same content as the clean bundle: the blobs agree.
	b, err := trust.Open(clean)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := map[string]bool{}
	for _, bl := range b.Manifest().Blobs {
		want[bl.Digest] = true
	}
	for _, bl := range res.Manifest.Blobs {
		if !want[bl.Digest] {
			t.Errorf("blob %s is not in the clean bundle", bl.Digest)
		}
	}
}

// TestCreateRecordsUnresolved: an image that cannot be pulled is named, and no bundle is
// written: the .partial keeps every layer of the others, and the rerun, once the image can be
// pulled, takes them from it. With AllowPartial the bundle is written and its manifest lists
// the missing image. The error wraps ErrPartial, and ErrRefused (a missing repository: a rerun
// meets it again).
func TestCreateRecordsUnresolved(t *testing.T) {
	_, images, _ := smallWorld(t)
	broken := append([]digests.Image{}, images...)
	broken[0].Path += "-missing"
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	res, err := Create(t.Context(), newClient(t), CreateOptions{List: &digests.List{File: "list.yml", Images: broken},
		Output: out, Tool: "test"})
	if !errors.Is(err, ErrPartial) || !errors.Is(err, ErrRefused) || res == nil || res.Failed[broken[0].Key()] == nil || !res.Unfinished {
		t.Fatalf("err = %v, failed = %v", err, res)
	}
	if n := len(res.Manifest.Images); n == 0 || n >= len(images) {
		t.Fatalf("%d images planned of %d", n, len(images))
	}
	for _, f := range []string{out, out + ".sha256"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a run that failed an image: %v", f, err)
		}
	}
	if _, err := os.Stat(out + ".partial"); err != nil {
		t.Fatalf("no .partial kept: %v", err)
	}

	// The rerun with every image pullable pulls only what the .partial lacks.
	res, err = Create(t.Context(), newClient(t), CreateOptions{List: &digests.List{File: "list.yml", Images: images}, Output: out, Tool: "test"})
	if err != nil || res.Kept.Blobs == 0 || len(res.Manifest.Missing) != 0 {
		t.Fatalf("rerun: %v, kept %+v", err, res)
	}
	if _, err := trust.Verify(t.Context(), out, nil); err != nil {
		t.Fatalf("the rerun's bundle: %v", err)
	}

	// --allow-partial: the bundle is written, and says what it lacks.
	out = filepath.Join(t.TempDir(), "p.tar.zst")
	res, err = Create(t.Context(), newClient(t), CreateOptions{List: &digests.List{File: "list.yml", Images: broken},
		Output: out, Tool: "test", AllowPartial: true})
	if !errors.Is(err, ErrPartial) || res.Unfinished {
		t.Fatalf("allow partial: %v", err)
	}
	b, err := trust.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ms := b.Manifest().Missing
	if len(ms) != 1 || ms[0].Key() != broken[0].Key() || ms[0].Path != broken[0].Path || !strings.Contains(ms[0].Reason, "-missing") {
		t.Errorf("missing %+v, want %s", ms, broken[0].Key())
	}
}

// TestPushSkipsMountsAndCounts: a push into an empty registry uploads every unique blob once
// and mounts the rest; a second push uploads nothing and puts no manifest or tag again (Harbor
// would scan them again); the progress never passes its total.
func TestPushSkipsMountsAndCounts(t *testing.T) {
	_, _, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dest := testregistry.StartT(t)
	var unique int64
	for _, bl := range b.Manifest().Blobs {
		if bl.Kind == archive.KindLayer || bl.Kind == archive.KindConfig {
			unique += bl.Size
		}
	}
	for run := 1; run <= 2; run++ {
		m := &meter{}
		before := dest.BlobBytesReceived()
		res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}, Progress: m})
		if err != nil {
			t.Fatalf("push %d: %v", run, err)
		}
		got := dest.BlobBytesReceived() - before
		switch {
		case run == 1 && (got != unique || res.Stats.BlobsMounted == 0):
			t.Fatalf("push 1: uploaded %d bytes (unique %d), %d mounts", got, unique, res.Stats.BlobsMounted)
		case run == 2 && (got != 0 || res.Stats.BlobsUploaded != 0 || res.Stats.ManifestsPushed != 0):
			t.Fatalf("push 2: uploaded %d bytes, %d blobs, %d manifests put again", got, res.Stats.BlobsUploaded, res.Stats.ManifestsPushed)
		}
		if m.over.Load() || m.n.Load() != m.total.Load() {
			t.Errorf("push %d: progress %d of %d", run, m.n.Load(), m.total.Load())
		}
		if len(res.Images) != len(b.Manifest().Images) {
			t.Fatalf("push %d: %d images of %d", run, len(res.Images), len(b.Manifest().Images))
		}
	}
}

// TestPushMountsDeclined: into a registry that declines mounts (ECR without blob mounting),
// the blobs shared between repositories are uploaded into each, in the session the declined
// mount opened, and the progress still never passes its total.
func TestPushMountsDeclined(t *testing.T) {
	_, _, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	q := &testregistry.Quirks{NoMount: true}
	dest := testregistry.StartT(t, testregistry.WithQuirks(q))
	m := &meter{}
	res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}, Progress: m})
	if err != nil {
		t.Fatal(err)
	}
	// Asks already in flight when the first is declined are declined too; none after.
	var chances int64
	g, ts := mustTargets(t, b)
	for _, j := range blobJobs(g, ts) {
		chances += int64(len(j.repos) - 1)
	}
	if res.Stats.BlobsMounted != 0 || q.Refused() == 0 || q.Refused() > DefaultJobs || chances <= DefaultJobs {
		t.Fatalf("%d mounts, %d declined of %d chances to mount (want 0, and 1 to %d: no ask after a decline)",
			res.Stats.BlobsMounted, q.Refused(), chances, DefaultJobs)
	}
	if m.over.Load() {
		t.Fatalf("progress %d of %d", m.n.Load(), m.total.Load())
	}
}

// TestPushOneRepositoryFails: a repository that fails for good fails its images and not the
// others; the error wraps ErrPartial and not ErrRefused (a 500 may pass).
func TestPushOneRepositoryFails(t *testing.T) {
	_, _, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := testregistry.NewFaults(3)
	bad := b.Manifest().Images[0].Path
	f.FailRepository(bad, 500)
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}})
	if !errors.Is(err, ErrPartial) || errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	for _, im := range b.Manifest().Images {
		_, failed := res.Failed[im.Key()]
		if failed != (im.Path == bad) {
			t.Errorf("%s (%s): failed %v", im.Key(), im.Path, failed)
		}
	}
}

func TestRetryable(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"a broken stream", ctx, errors.New("unexpected EOF"), true},
		{"a transient answer to an upload", ctx, &oci.StatusError{Code: 503}, true},
		{"a refusal", ctx, &oci.StatusError{Code: 401}, false},
		{"the bundle's copy is bad", ctx, errFromBundle, false},
		{"a corrupt bundle", ctx, archive.ErrCorrupt, false},
		{"a missing platform", ctx, ErrPlatform, false},
		{"cancelled", cancelled, errors.New("unexpected EOF"), false},
	} {
		if got := retryable(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v", tc.name, got)
		}
	}
}

// mustTargets reads the bundle's graph and its targets.
func mustTargets(t *testing.T, b *archive.Bundle) (*graph.Graph, []*target) {
	t.Helper()
	g, err := graph.Read(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := targets(Destination{Host: "x"}, g.Images())
	if err != nil {
		t.Fatal(err)
	}
	return g, ts
}

// TestCreateConfigLost: an image whose config the upstream lost is left out and named with the
// config (configs are read in the image's own resolution, beside the other images'), the
// others are bundled, and the error wraps ErrPartial.
func TestCreateConfigLost(t *testing.T) {
	dir := t.TempDir()
	up, err := testregistry.Start(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	images, err := fixture.Generate(t.Context(), fixture.Options{Registry: up.Host, Size: 1 << 20, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	g := (&digests.List{Images: images}).Groups()[0]
	m, err := c.GetManifest(t.Context(), g.Source.Repository()+"@"+g.Source.Digest)
	if err != nil {
		t.Fatal(err)
	}
	root, err := manifest.Parse(t.Context(), manifest.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}, m.Raw, fetchFrom(c, g.Source.Repository(), newHeldBytes()))
	if err != nil {
		t.Fatal(err)
	}
	var cfg string
	root.Walk(func(n *manifest.Node) {
		if len(n.Blobs) > 0 && cfg == "" {
			cfg = n.Blobs[0].Digest
		}
	})
	// Gone from the store and from every repository's links: the registry answers 404.
	hex := strings.TrimPrefix(cfg, "sha256:")
	links, _ := filepath.Glob(filepath.Join(dir, testregistry.StorageDir, "docker/registry/v2/repositories/*/*/*/_layers/sha256", hex))
	links2, _ := filepath.Glob(filepath.Join(dir, testregistry.StorageDir, "docker/registry/v2/repositories/*/*/_layers/sha256", hex))
	links = append(links, links2...)
	if len(links) == 0 {
		t.Fatalf("no repository links config %s", cfg)
	}
	for _, p := range append(links, filepath.Join(dir, testregistry.StorageDir, "docker/registry/v2/blobs/sha256", hex[:2], hex)) {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	up.Close() // and started again on the same store: its cache of blob descriptors forgets
	if up, err = testregistry.Start(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	for i := range images {
		images[i].Server = up.Host
	}
	res, err := Create(t.Context(), c, CreateOptions{List: &digests.List{File: "list.yml", Images: images},
		Output: filepath.Join(t.TempDir(), "b.tar.zst"), Tool: "test"})
	if !errors.Is(err, ErrPartial) || res == nil {
		t.Fatalf("err = %v", err)
	}
	lost := res.Failed[g.Members[0].Key()]
	if lost == nil || !strings.Contains(lost.Error(), cfg) {
		t.Fatalf("the image with the lost config: %v (want its config %s named)", lost, cfg)
	}
	if n := len(res.Manifest.Images); n == 0 || n >= len(images) {
		t.Fatalf("%d images bundled of %d", n, len(images))
	}
}

// TestPushFullDisk: a registry whose storage is full answers every upload with 500 and
// Distribution's words for it. The push stops within seconds, not after every blob's retries:
// every container fails with the registry's words, once, and the error wraps ErrStopped (not
// ErrPartial's "rerun", nor a refusal).
func TestPushFullDisk(t *testing.T) {
	_, _, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := testregistry.NewFaults(5)
	const words = "filesystem: write /var/lib/registry/docker/registry/v2/repositories/x/_uploads/y/data: no space left on device"
	f.FailUploads(500, `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"`+words+`"}]}`)
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	c, err := oci.New(oci.WithTimeout(2*time.Second), oci.WithRetry(20, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Push(t.Context(), c, b, PushOptions{Destination: Destination{Host: dest.Host}})
	took := time.Since(start)
	if !errors.Is(err, ErrStopped) || errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	if took > 30*time.Second {
		t.Errorf("stopped after %s", took)
	}
	causes := map[string]int{}
	for _, ferr := range res.Failed {
		causes[Cause(ferr)]++
	}
	if len(res.Failed) != len(b.Manifest().Images) || len(causes) != 1 {
		t.Fatalf("%d of %d failed, causes %v", len(res.Failed), len(b.Manifest().Images), causes)
	}
	for c := range causes {
		if !strings.Contains(c, "HTTP 500") || !strings.Contains(c, "no space left on device") {
			t.Errorf("cause %q", c)
		}
	}
	uploads := res.Stats.BlobsUploaded
	if uploads != 0 {
		t.Errorf("%d blobs uploaded to a full disk", uploads)
	}
	t.Logf("stopped after %s, %d requests: %v", took.Round(time.Millisecond), dest.Requests(), err)
	if n := dest.Requests(); n > 200 {
		t.Errorf("%d requests to a registry that failed every upload", n)
	}
}

// TestPushDamagedBundle: a blob of the bundle that does not verify fails what uses it; the
// error wraps archive.ErrCorrupt (carry it again or repair it), not a rerun's ErrPartial alone.
func TestPushDamagedBundle(t *testing.T) {
	_, _, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest()
	var layer archive.Blob
	for _, bl := range m.Blobs {
		if bl.Kind == archive.KindLayer && bl.Size > layer.Size {
			layer = bl
		}
	}
	b.Close()
	damaged := filepath.Join(t.TempDir(), "damaged.tar.zst")
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b, err = trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	off, length, ok := b.EntryRange(archive.BlobName(layer.Digest))
	b.Close()
	if !ok {
		t.Fatal("no offset for the layer")
	}
	data[off+length/2] ^= 0x01
	os.WriteFile(damaged, data, 0o644)
	b, err = trust.Open(damaged)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dest := testregistry.StartT(t)
	res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}})
	if !errors.Is(err, archive.ErrCorrupt) || res == nil || len(res.Failed) == 0 {
		t.Fatalf("err = %v", err)
	}
}

// TestRetryBlobSameAnswer: a transfer that gets the same error answer every time is tried
// oci.SameAnswer times, whatever --retries allows, and says so; one that breaks differently
// each time goes on to the budget's end.
func TestRetryBlobSameAnswer(t *testing.T) {
	c := newClient(t, oci.WithRetry(50, time.Minute))
	calls := 0
	err := retryBlob(t.Context(), c, func(context.Context) error {
		calls++
		return &oci.StatusError{What: "upload blob sha256:x to a", Code: 500, Reg: "UNKNOWN", Message: "no space left on device"}
	})
	if calls != oci.SameAnswer || !strings.Contains(err.Error(), "the same answer 4 times in a row") {
		t.Errorf("%d calls: %v", calls, err)
	}
	calls = 0
	err = retryBlob(t.Context(), newClient(t, oci.WithRetry(3, time.Minute)), func(context.Context) error {
		calls++
		return &oci.StatusError{What: "upload", Code: 500 + calls%2*3}
	})
	if calls != blobAttempts || err == nil {
		t.Errorf("answers that differ: %d calls, want %d: %v", calls, blobAttempts, err)
	}
}

// TestPushDeltaProgress: a delta's external layers, found in the destination, count nothing in
// the progress: its total is what the bundle carries, and the count never passes it.
func TestPushDeltaProgress(t *testing.T) {
	_, images, bundle := smallWorld(t)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dest := testregistry.StartT(t)
	if _, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}}); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var paths []string
	for _, bl := range b.Manifest().Blobs {
		have[bl.Digest] = true
	}
	for _, im := range b.Manifest().Images {
		paths = append(paths, im.Path)
	}
	out := filepath.Join(t.TempDir(), "delta.tar.zst")
	res, err := Create(t.Context(), newClient(t), CreateOptions{List: &digests.List{File: "list.yml", Images: images}, Output: out, Tool: "test",
		Base: &archive.Base{Kind: "bundle", Name: "small.tar.zst", Digest: "sha256:" + strings.Repeat("0", 64), Paths: paths},
		Have: func(d string) bool { return have[d] }})
	if err != nil || len(res.Manifest.External) == 0 {
		t.Fatalf("delta: %v", err)
	}
	d, err := trust.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := &meter{}
	if _, err := Push(t.Context(), newClient(t), d, PushOptions{Destination: Destination{Host: dest.Host}, Progress: m}); err != nil {
		t.Fatal(err)
	}
	if m.over.Load() || m.n.Load() != m.total.Load() {
		t.Errorf("delta push: progress %d of %d", m.n.Load(), m.total.Load())
	}
}
