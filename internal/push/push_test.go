package push

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
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/mirror"
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
		_, smallErr = create.Create(ctx, c, create.CreateOptions{List: &digests.List{File: "list.yml", Images: smallImages},
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

// meter is a mirror.Progress that checks it never passes its total.
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

// TestPushSkipsMountsAndCounts: a push into an empty registry uploads every unique blob once
// and mounts the rest; a second push uploads nothing and puts no manifest or tag again (Harbor
// would scan them again); the progress never passes its total.
func TestPushSkipsMountsAndCounts(t *testing.T) {
	t.Parallel() // its own destination registry; the small world is read only
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
	t.Parallel() // its own destination registry; the small world is read only
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
	if res.Stats.BlobsMounted != 0 || q.Refused() == 0 || q.Refused() > mirror.DefaultJobs || chances <= mirror.DefaultJobs {
		t.Fatalf("%d mounts, %d declined of %d chances to mount (want 0, and 1 to %d: no ask after a decline)",
			res.Stats.BlobsMounted, q.Refused(), chances, mirror.DefaultJobs)
	}
	if m.over.Load() {
		t.Fatalf("progress %d of %d", m.n.Load(), m.total.Load())
	}
}

// TestPushOneRepositoryFails: a repository that fails for good fails its images and not the
// others; the error wraps mirror.ErrPartial and not mirror.ErrRefused (a 500 may pass).
func TestPushOneRepositoryFails(t *testing.T) {
	t.Parallel() // its own destination registry; the small world is read only
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
	if !errors.Is(err, mirror.ErrPartial) || errors.Is(err, mirror.ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	for _, im := range b.Manifest().Images {
		_, failed := res.Failed[im.Key()]
		if failed != (im.Path == bad) {
			t.Errorf("%s (%s): failed %v", im.Key(), im.Path, failed)
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

// TestPushFullDisk: a registry whose storage is full answers every upload with 500 and
// Distribution's words for it. The push stops within seconds, not after every blob's retries:
// every container fails with the registry's words, once, and the error wraps mirror.ErrStopped (not
// mirror.ErrPartial's "rerun", nor a refusal).
func TestPushFullDisk(t *testing.T) {
	t.Parallel() // its own destination registry; the small world is read only
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
	if !errors.Is(err, mirror.ErrStopped) || errors.Is(err, mirror.ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	if took > 30*time.Second {
		t.Errorf("stopped after %s", took)
	}
	causes := map[string]int{}
	for _, ferr := range res.Failed {
		causes[mirror.Cause(ferr)]++
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
// error wraps archive.ErrCorrupt (carry it again or repair it), not a rerun's mirror.ErrPartial alone.
func TestPushDamagedBundle(t *testing.T) {
	t.Parallel() // its own destination registry; the small world is read only
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

// TestPushDeltaProgress: a delta's external layers, found in the destination, count nothing in
// the progress: its total is what the bundle carries, and the count never passes it.
func TestPushDeltaProgress(t *testing.T) {
	t.Parallel() // its own destination registry; the small world is read only
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
	res, err := create.Create(t.Context(), newClient(t), create.CreateOptions{List: &digests.List{File: "list.yml", Images: images}, Output: out, Tool: "test",
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
