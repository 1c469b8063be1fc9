package push

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestBlobJobsPlan: one job a digest, whatever the images that share it; each job lists the
// repositories that need it and the containers that use it, once each; the largest go first,
// and the total is what the bundle carries.
func TestBlobJobsPlan(t *testing.T) {
	shared, own := tinyImage("shared", manifest.OCIManifest), tinyImage("a much longer seed, for a larger layer", manifest.OCIManifest)
	b := openTestBundle(t, []testbundle.Image{
		{Component: "c", Container: "a", Server: "example.org", Path: "ess/a", Tag: "1", Root: shared[0]},
		{Component: "c", Container: "a2", Server: "example.org", Path: "ess/a", Tag: "2", Root: shared[0]},
		{Component: "c", Container: "b", Server: "example.org", Path: "ess/b", Tag: "1", Root: shared[0]},
		{Component: "c", Container: "own", Server: "example.org", Path: "ess/own", Tag: "1", Root: own[0]},
	}, []testbundle.Blob{shared[0], own[0], shared[1], shared[2], own[1], own[2]})
	g, ts := mustTargets(t, b)
	jobs := blobJobs(g, ts)
	if len(jobs) != 4 {
		t.Fatalf("%d jobs, want 4 (two configs, two layers)", len(jobs))
	}
	var total int64
	for i, j := range jobs {
		if i > 0 && j.Size > jobs[i-1].Size {
			t.Errorf("job %d (%d bytes) after one of %d", i, j.Size, jobs[i-1].Size)
		}
		total += j.Size
		switch j.Digest {
		case shared[1].Digest(), shared[2].Digest():
			if !slices.Equal(j.repos, []string{"ess/a", "ess/b"}) || !slices.Equal(j.users, []string{"c.a", "c.a2", "c.b"}) {
				t.Errorf("shared blob: repos %v, users %v", j.repos, j.users)
			}
		case own[1].Digest(), own[2].Digest():
			if !slices.Equal(j.repos, []string{"ess/own"}) || !slices.Equal(j.users, []string{"c.own"}) {
				t.Errorf("own blob: repos %v, users %v", j.repos, j.users)
			}
		default:
			t.Errorf("job for %s, no blob of the images", j.Digest)
		}
		if j.external {
			t.Errorf("%s external in a full bundle", j.Digest)
		}
	}
	if got := totalBytes(jobs); got != total {
		t.Errorf("totalBytes %d, want %d", got, total)
	}
	jobs[0].external = true
	if got := totalBytes(jobs); got != total-jobs[0].Size {
		t.Errorf("totalBytes with an external blob %d, want %d", got, total-jobs[0].Size)
	}
}

// countingProgress sums what it is given.
type countingProgress struct {
	mu sync.Mutex
	n  int64
}

func (p *countingProgress) SetTotal(int64) {}
func (p *countingProgress) Add(n int64) {
	p.mu.Lock()
	p.n += n
	p.mu.Unlock()
}

// TestBlobJobProgress: a blob counts up to its size and no more, however many tries and
// repositories send it, from however many goroutines; an external blob counts nothing.
func TestBlobJobProgress(t *testing.T) {
	p := &countingProgress{}
	j := &blobJob{Blob: archive.Blob{Size: 10}}
	for _, n := range []int64{4, 4, 4, 5} {
		j.progress(p, n)
	}
	if p.n != 10 {
		t.Errorf("counted %d of a 10-byte blob", p.n)
	}

	p, j = &countingProgress{}, &blobJob{Blob: archive.Blob{Size: 50}}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { j.progress(p, 1) })
	}
	wg.Wait()
	if p.n != 50 {
		t.Errorf("counted %d of a 50-byte blob from 100 goroutines", p.n)
	}

	p, j = &countingProgress{}, &blobJob{Blob: archive.Blob{Size: 10}, external: true}
	j.progress(p, 10)
	if p.n != 0 {
		t.Errorf("counted %d of an external blob", p.n)
	}
}

// deltaOf writes a delta bundle of one image at path whose layers are base's layer (not
// carried: external) and a layer of its own, made against a base of basePaths.
// It returns the bundle, the external layer and the bytes the bundle carries of the image.
func deltaOf(t *testing.T, base []testbundle.Blob, path string, basePaths []string) (*archive.Bundle, testbundle.Blob, int64) {
	t.Helper()
	own := tinyImage(path, manifest.OCIManifest)
	baseLayer := base[2]
	cd, ld, od := own[1].Descriptor(), baseLayer.Descriptor(), own[2].Descriptor()
	m := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld, od}}),
		MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	file, err := testbundle.WriteWith(t.TempDir(), "delta", []testbundle.Image{{Component: "c", Container: "new", Server: "example.org", Path: path, Tag: "1", Root: m}},
		[]testbundle.Blob{m, own[1], own[2]}, testbundle.Extra{
			Base:     &archive.Base{Kind: "bundle", Name: "base.tar.zst", Digest: "sha256:" + strings.Repeat("ab", 32), Paths: basePaths},
			External: []archive.Blob{{Digest: baseLayer.Digest(), Size: int64(len(baseLayer.Data)), MediaType: baseLayer.MediaType, Kind: archive.KindLayer}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, baseLayer, int64(len(own[1].Data) + len(own[2].Data))
}

// TestPushDeltaBase: a delta bundle's external blob is mounted from the base's repository in
// the destination; where the destination lacks it, the push fails before anything is sent,
// with ErrBaseMissing naming the base, the destination and the blob.
func TestPushDeltaBase(t *testing.T) {
	base := tinyImage("base", manifest.OCIManifest)
	baseBundle := openTestBundle(t, []testbundle.Image{{Component: "c", Container: "base", Server: "example.org", Path: "ess/base", Tag: "1", Root: base[0]}}, base)
	dest := testregistry.StartT(t)

	delta, layer, carried := deltaOf(t, base, "ess/new", []string{"ess/base"})
	_, err := Push(t.Context(), newClient(t), delta, PushOptions{Destination: Destination{Host: dest.Host}})
	if !errors.Is(err, ErrBaseMissing) {
		t.Fatalf("delta into an empty registry: %v, want ErrBaseMissing", err)
	}
	for _, s := range []string{"base.tar.zst", strings.Repeat("ab", 32), dest.Host, layer.Digest(), "c.new", "1 blobs"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not name %q", err, s)
		}
	}
	if dest.BlobBytesReceived() != 0 {
		t.Errorf("%d bytes sent before the base was found missing", dest.BlobBytesReceived())
	}

	if _, err := Push(t.Context(), newClient(t), baseBundle, PushOptions{Destination: Destination{Host: dest.Host}}); err != nil {
		t.Fatal(err)
	}
	before := dest.BlobBytesReceived()
	res, err := Push(t.Context(), newClient(t), delta, PushOptions{Destination: Destination{Host: dest.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.BlobsMounted != 1 || dest.BlobBytesReceived()-before != carried {
		t.Errorf("delta after its base: %d mounted, %d bytes sent", res.Stats.BlobsMounted, dest.BlobBytesReceived()-before)
	}
	if len(res.Images) != 1 || res.Images[0].Path != "ess/new" {
		t.Errorf("pushed %+v", res.Images)
	}
}

// TestPushBlobDamaged: a layer whose copy in the bundle does not verify fails every container
// that uses it, in every repository, with archive.ErrCorrupt and a message naming the blob,
// its kind and the containers, from the first repository tried (the others are not tried with
// it); the image that does not use it is pushed.
func TestPushBlobDamaged(t *testing.T) {
	shared, own := tinyImage("shared", manifest.OCIManifest), tinyImage("own", manifest.OCIManifest)
	shared[2].Data = []byte(strings.Repeat("a layer that compresses well, ", 2000))
	cd, ld := shared[1].Descriptor(), shared[2].Descriptor()
	shared[0].Data = testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	path, err := testbundle.Write(t.TempDir(), "b", []testbundle.Image{
		{Component: "c", Container: "a", Server: "example.org", Path: "ess/a", Tag: "1", Root: shared[0]},
		{Component: "c", Container: "b", Server: "example.org", Path: "ess/b", Tag: "1", Root: shared[0]},
		{Component: "c", Container: "own", Server: "example.org", Path: "ess/own", Tag: "1", Root: own[0]},
	}, []testbundle.Blob{shared[0], own[0], shared[1], shared[2], own[1], own[2]})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	off, length, ok := b.EntryRange(archive.BlobName(ld.Digest))
	b.Close()
	if !ok {
		t.Fatal("no range for the layer")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off+length/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dest := testregistry.StartT(t)
	res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: Destination{Host: dest.Host}})
	if !errors.Is(err, archive.ErrCorrupt) || res == nil {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	if len(res.Failed) != 2 || len(res.Images) != 1 || res.Images[0].Path != "ess/own" {
		t.Fatalf("failed %v, pushed %+v", res.Failed, res.Images)
	}
	for _, k := range []string{"c.a", "c.b"} {
		ferr := res.Failed[k]
		if !errors.Is(ferr, archive.ErrCorrupt) || !strings.Contains(ferr.Error(), "blob "+ld.Digest+" (layer of c.a, c.b)") {
			t.Errorf("%s: %v", k, ferr)
		}
		// The bundle's copy failed in ess/a: ess/b is not tried with it (nor retried).
		if !strings.Contains(ferr.Error(), "to ess/a") || strings.Contains(ferr.Error(), "to ess/b") {
			t.Errorf("%s: %v, want the failure in ess/a for both", k, ferr)
		}
	}
}
