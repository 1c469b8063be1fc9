package create

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// tinyTree is what the create side's tests bundle: three images, two of them on one base (so
// that they share layers), small enough to generate in a moment.
var tinyTree = []digests.Image{
	{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "docker.io", Path: "library/nginx", Tag: "1.25"}},
	{Entry: imageref.Entry{Component: "cache", Container: "redis", Server: "docker.io", Path: "library/redis", Tag: "7"}},
	{Entry: imageref.Entry{Component: "db", Container: "postgres", Server: "docker.io", Path: "library/postgres", Tag: "16"}},
}

// tinyWorld starts a registry of its own for the test and pushes tinyTree into it.
func tinyWorld(t *testing.T, seed int64, opts ...testregistry.Option) (*testregistry.Registry, []digests.Image) {
	t.Helper()
	up := testregistry.StartT(t, opts...)
	images, err := fixture.Generate(t.Context(), fixture.Options{Registry: up.Host, Size: 192 << 10, Seed: seed, Tree: tinyTree})
	if err != nil {
		t.Fatal(err)
	}
	return up, images
}

// tagOnly is im as a list names it by tag alone.
func tagOnly(im digests.Image) digests.Image { im.Digest = ""; return im }

// pinnedOnly is im as a list names it by digest alone.
func pinnedOnly(im digests.Image) digests.Image { im.Tag = ""; return im }

func createIn(t *testing.T, c *oci.Client, o CreateOptions) (*Created, error) {
	t.Helper()
	if o.Output == "" {
		o.Output = filepath.Join(t.TempDir(), "b.tar.zst")
	}
	if o.Tool == "" {
		o.Tool = "test"
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(1700000000, 0)
	}
	return Create(t.Context(), c, o)
}

// TestCreateSourcesKeyTwice: one key given twice (the list and --image, the list and a chart,
// two charts) is refused before anything is pulled, naming the key and both places.
func TestCreateSourcesKeyTwice(t *testing.T) {
	list := &digests.List{Images: []digests.Image{
		{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "r.test", Path: "nginx", Tag: "1"}},
	}}
	mkChart := func(name string, blocks ...chart.Block) *Chart {
		return &Chart{Ref: "oci://r.test/charts/" + name + ":1", Chart: &chart.Chart{Name: name, Version: "1"}, Blocks: blocks,
			Source: digests.Image{Entry: imageref.Entry{Component: name, Container: mirror.ChartContainer, Server: "r.test", Path: "charts/" + name, Tag: "1"}}}
	}
	for _, tc := range []struct {
		name string
		o    CreateOptions
		want []string // "" means no error
	}{
		{"list only", CreateOptions{List: list}, nil},
		{"an extra image of another key", CreateOptions{List: list, Extra: []digests.Image{{Entry: imageref.Entry{Component: "extra", Container: "nginx", Server: "r.test", Path: "nginx", Tag: "2"}}}}, nil},
		{"an extra image of the list's key", CreateOptions{List: list, Extra: []digests.Image{{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "r.test", Path: "nginx", Tag: "2"}}}},
			[]string{"web.nginx"}},
		{"a chart block of the list's key", CreateOptions{List: list, Charts: []*Chart{mkChart("web", chart.Block{Path: "nginx", Registry: "r.test", Repository: "nginx", Tag: "3"})}},
			[]string{"web.nginx", "an entry of the image list", "chart oci://r.test/charts/web:1"}},
		{"two charts of one name", CreateOptions{Charts: []*Chart{mkChart("stack"), mkChart("stack")}},
			[]string{"stack.chart", "two charts of one name"}},
		{"two charts, blocks of their own", CreateOptions{Charts: []*Chart{
			mkChart("a", chart.Block{Path: "x.image", Registry: "r.test", Repository: "x", Tag: "1"}),
			mkChart("b", chart.Block{Path: "x.image", Registry: "r.test", Repository: "x", Tag: "1"})}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all, err := tc.o.sources()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				n := len(tc.o.Extra)
				if tc.o.List != nil {
					n += len(tc.o.List.Images)
				}
				for _, ch := range tc.o.Charts {
					n += len(ch.Blocks)
				}
				if len(all) != n {
					t.Errorf("%d sources, want %d: %v", len(all), n, all)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %v", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: does not say %q", err, w)
				}
			}
		})
	}
}

// TestCreateTaggedAndPinned: an image listed by tag is fetched by tag and the digest it
// resolved to recorded; one listed by digest (with or without its tag) is fetched by that
// digest, recorded as listed. The bundle verifies, and index.json names every image.
func TestCreateTaggedAndPinned(t *testing.T) {
	_, images := tinyWorld(t, 31)
	list := []digests.Image{tagOnly(images[0]), pinnedOnly(images[1]), images[2]}
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	res, err := createIn(t, newClient(t), CreateOptions{List: &digests.List{File: "l.yml", Images: list}, ListContent: []byte("list"), Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 == "" || res.Unfinished || len(res.Failed) != 0 {
		t.Fatalf("result %+v", res)
	}
	byKey := map[string]archive.Image{}
	for _, im := range res.Manifest.Images {
		byKey[im.Key()] = im
	}
	for i, want := range images {
		got, ok := byKey[want.Key()]
		if !ok {
			t.Fatalf("%s not in the bundle", want.Key())
		}
		if got.Digest != want.Digest {
			t.Errorf("%s: digest %s, the registry serves %s", want.Key(), got.Digest, want.Digest)
		}
		if got.ListedDigest != list[i].Digest || got.Tag != list[i].Tag {
			t.Errorf("%s: recorded as listed %q:%q, want %q:%q", want.Key(), got.Tag, got.ListedDigest, list[i].Tag, list[i].Digest)
		}
	}
	if m := res.Manifest; m.Source.Name != "l.yml" || m.Source.Content != "list" || m.Totals.Images != 3 || m.Totals.Blobs != len(m.Blobs) || m.Tool != "test" {
		t.Errorf("manifest %+v", m)
	}
	if v, err := trust.Verify(t.Context(), out, nil); err != nil || len(v.Bad) > 0 {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	b, err := trust.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rc, err := b.OpenEntry(archive.IndexName)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var idx struct{ Manifests []manifest.Descriptor }
	if err := json.NewDecoder(rc).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	named := map[string]string{}
	for _, d := range idx.Manifests {
		named[d.Annotations["io.element.ess.containers"]] = d.Digest
	}
	for _, im := range images {
		if named[im.Key()] != im.Digest {
			t.Errorf("index.json: %s -> %q, want %s (%v)", im.Key(), named[im.Key()], im.Digest, named)
		}
	}
}

// TestCreateGroupsOneSource: two containers of one source image are resolved once and both
// recorded, with the same digest.
func TestCreateGroupsOneSource(t *testing.T) {
	_, images := tinyWorld(t, 32)
	twin := images[0]
	twin.Component, twin.Container = "other", "twin"
	res, err := createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: []digests.Image{images[0], twin}}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Images) != 2 || res.Manifest.Images[0].Digest != res.Manifest.Images[1].Digest {
		t.Fatalf("images %+v", res.Manifest.Images)
	}
}

// TestCreateUnknownDigest: an image pinned to a digest the registry does not have fails on
// its own, named by its key and reference; with the others there, no bundle is written and
// the .partial is kept (mirror.ErrPartial, and ErrRefused: a rerun meets it again); with
// AllowPartial the bundle is written and lists it as missing with the listed digest (the
// command names --allow-partial: cli's TestCreatePartialNamesFlag); with nothing else to
// carry, ErrNothing.
func TestCreateUnknownDigest(t *testing.T) {
	_, images := tinyWorld(t, 33)
	bad := images[1]
	bad.Digest = "sha256:" + strings.Repeat("0", 63) + "1"
	list := []digests.Image{images[0], bad, images[2]}
	c := newClient(t)

	out := filepath.Join(t.TempDir(), "b.tar.zst")
	res, err := createIn(t, c, CreateOptions{List: &digests.List{Images: list}, Output: out})
	if !errors.Is(err, mirror.ErrPartial) || !errors.Is(err, mirror.ErrRefused) || errors.Is(err, ErrNothing) {
		t.Fatalf("err = %v", err)
	}
	if res == nil || !res.Unfinished || len(res.Failed) != 1 || res.SHA256 != "" {
		t.Fatalf("result %+v", res)
	}
	ferr := res.Failed[bad.Key()]
	if ferr == nil || !strings.Contains(ferr.Error(), bad.Key()) || !strings.Contains(ferr.Error(), bad.Digest[:20]) {
		t.Errorf("failure of %s: %v", bad.Key(), ferr)
	}
	if !strings.Contains(err.Error(), "1 of 3 containers") || !strings.Contains(err.Error(), "no bundle written") {
		t.Errorf("err = %v", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a bundle was written: %v", serr)
	}
	if _, serr := os.Stat(out + ".partial"); serr != nil {
		t.Errorf("no .partial kept: %v", serr)
	}

	out2 := filepath.Join(t.TempDir(), "p.tar.zst")
	res, err = createIn(t, c, CreateOptions{List: &digests.List{Images: list}, Output: out2, AllowPartial: true})
	if !errors.Is(err, mirror.ErrPartial) || res == nil || res.Unfinished || res.SHA256 == "" || !strings.Contains(err.Error(), "1 of 3 containers left out of the bundle") {
		t.Fatalf("allow partial: %+v, %v", res, err)
	}
	ms := res.Manifest.Missing
	if len(ms) != 1 || ms[0].Key() != bad.Key() || ms[0].ListedDigest != bad.Digest || ms[0].Tag != bad.Tag || ms[0].Reason == "" {
		t.Fatalf("missing %+v", ms)
	}
	if len(res.Manifest.Images) != 2 {
		t.Errorf("%d images carried, want 2", len(res.Manifest.Images))
	}
	if v, err := trust.Verify(t.Context(), out2, nil); err != nil || len(v.Bad) > 0 {
		t.Fatalf("verify the partial bundle: %+v, %v", v, err)
	}

	out3 := filepath.Join(t.TempDir(), "n.tar.zst")
	res, err = createIn(t, c, CreateOptions{List: &digests.List{Images: []digests.Image{bad}}, Output: out3, AllowPartial: true})
	if !errors.Is(err, ErrNothing) || !errors.Is(err, mirror.ErrRefused) || res == nil || res.Failed[bad.Key()] == nil {
		t.Fatalf("nothing to bundle: %+v, %v", res, err)
	}
	if _, serr := os.Stat(out3); !os.IsNotExist(serr) {
		t.Errorf("a bundle of nothing was written: %v", serr)
	}
}

// TestCreateDryRun: a dry run resolves every image and plans, writing nothing: the plan counts
// every blob once, and what to pull is every layer (the manifests and configs are in memory).
// A failure is reported as in a real run.
func TestCreateDryRun(t *testing.T) {
	_, images := tinyWorld(t, 34)
	dir := t.TempDir()
	out := filepath.Join(dir, "b.tar.zst")
	res, err := createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: images}, Output: out, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a dry run wrote %v", entries)
	}
	m := res.Manifest
	var layers int64
	for _, b := range m.Blobs {
		if b.Kind == archive.KindLayer {
			layers += b.Size
		}
	}
	p := res.Plan
	if p.Blobs != len(m.Blobs) || p.Bytes != m.Totals.BlobBytes || p.Pull != layers || p.Cached != 0 || p.External != 0 || layers == 0 {
		t.Errorf("plan %+v; %d blobs, %d bytes, %d of layers", p, len(m.Blobs), m.Totals.BlobBytes, layers)
	}
	if res.SHA256 != "" || len(m.Images) != len(images) {
		t.Errorf("result %+v", res)
	}

	gone := images[0]
	gone.Path += "-gone"
	res, err = createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: []digests.Image{gone, images[1]}}, Output: out, DryRun: true})
	if !errors.Is(err, mirror.ErrPartial) || res == nil || res.Failed[gone.Key()] == nil || !strings.Contains(err.Error(), "1 of 2 containers could not be resolved") {
		t.Fatalf("dry run with a failure: %+v, %v", res, err)
	}
	if len(res.Manifest.Missing) != 1 {
		t.Errorf("missing %+v", res.Manifest.Missing)
	}
}

// TestCreateExtraOnly: images given one by one, without a list, are bundled as entries of
// their own, and the manifest records no source list.
func TestCreateExtraOnly(t *testing.T) {
	_, images := tinyWorld(t, 35)
	extra := tagOnly(images[2])
	extra.Component, extra.Container = digests.ExtraComponent, "postgres"
	res, err := createIn(t, newClient(t), CreateOptions{Extra: []digests.Image{extra}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Images) != 1 || res.Manifest.Images[0].Key() != "extra.postgres" || res.Manifest.Images[0].Digest != images[2].Digest {
		t.Errorf("images %+v", res.Manifest.Images)
	}
	if res.Manifest.Source.Name != "" || res.Manifest.Source.Content != "" {
		t.Errorf("source %+v", res.Manifest.Source)
	}
}

// TestCreateCancelled: a run whose context is done returns its error and writes no bundle.
func TestCreateCancelled(t *testing.T) {
	_, images := tinyWorld(t, 36)
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	_, err := Create(cctx, newClient(t), CreateOptions{List: &digests.List{Images: images}, Output: out, Tool: "test"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run: %v", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a bundle was written: %v", serr)
	}
}

func TestConfigPlatform(t *testing.T) {
	for in, want := range map[string]string{
		`{"os":"linux","architecture":"amd64"}`:                "linux/amd64",
		`{"os":"linux","architecture":"arm64","variant":"v8"}`: "linux/arm64/v8",
		`{"architecture":"amd64"}`:                             "",
		`not json`:                                             "",
		``:                                                     "",
		`{"os":"windows","architecture":"amd64","rootfs":{}}`:      "windows/amd64",
		`{"os":"linux","architecture":"arm","variant":"v7","x":1}`: "linux/arm/v7",
	} {
		if got := configPlatform([]byte(in)); got != want {
			t.Errorf("configPlatform(%s) = %q, want %q", in, got, want)
		}
	}
}
