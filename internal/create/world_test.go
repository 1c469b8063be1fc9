package create

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

	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/manifest"
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
// the missing image. The error wraps mirror.ErrPartial, and mirror.ErrRefused (a missing repository: a rerun
// meets it again).
func TestCreateRecordsUnresolved(t *testing.T) {
	_, images, _ := smallWorld(t)
	broken := append([]digests.Image{}, images...)
	broken[0].Path += "-missing"
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	res, err := Create(t.Context(), newClient(t), CreateOptions{List: &digests.List{File: "list.yml", Images: broken},
		Output: out, Tool: "test"})
	if !errors.Is(err, mirror.ErrPartial) || !errors.Is(err, mirror.ErrRefused) || res == nil || res.Failed[broken[0].Key()] == nil || !res.Unfinished {
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
	if !errors.Is(err, mirror.ErrPartial) || res.Unfinished {
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

// TestCreateConfigLost: an image whose config the upstream lost is left out and named with the
// config (configs are read in the image's own resolution, beside the other images'), the
// others are bundled, and the error wraps mirror.ErrPartial.
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
	if !errors.Is(err, mirror.ErrPartial) || res == nil {
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
