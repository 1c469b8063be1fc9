package create

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// chartWorld pushes the test chart (fixture.PushChart) and its images to a registry of its own.
func chartWorld(t *testing.T) (*testregistry.Registry, *fixture.Chart) {
	t.Helper()
	up := testregistry.StartT(t)
	fc, err := fixture.PushChart(t.Context(), fixture.Options{Registry: up.Host, Size: 256 << 10, Seed: 81}, filepath.Join(t.TempDir(), "chart"))
	if err != nil {
		t.Fatal(err)
	}
	return up, fc
}

// copyArtifact copies what the registry has at from to to (both HOST/PATH:TAG, on up): the
// blobs mounted, the manifest put as it is.
func copyArtifact(t *testing.T, up *testregistry.Registry, from, to string) {
	t.Helper()
	split := func(ref string) (repo, tag string) {
		i := strings.LastIndex(ref, ":")
		return strings.TrimPrefix(ref[:i], up.Host+"/"), ref[i+1:]
	}
	srcRepo, srcTag := split(from)
	dstRepo, dstTag := split(to)
	s, err := newClient(t, oci.WithTransport(up.Transport())).PushSession(t.Context(), up.Host)
	if err != nil {
		t.Fatal(err)
	}
	raw, mt, err := s.GetManifest(t.Context(), srcRepo, srcTag)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range append(m.Layers, m.Config) {
		if mounted, _, err := s.Mount(t.Context(), dstRepo, l.Digest, srcRepo); err != nil || !mounted {
			t.Fatalf("mount %s into %s: %v, %v", l.Digest, dstRepo, mounted, err)
		}
	}
	if err := s.PutManifest(t.Context(), dstRepo, dstTag, raw, mt); err != nil {
		t.Fatal(err)
	}
}

// TestLoadChartBadRef: an oci:// reference that is not HOST/PATH/NAME:VERSION is refused before
// any request, naming the reference and the form wanted, with mirror.ErrChartRef (from which
// the command names its flag: cli's TestCreateChartRefNamesFlag).
func TestLoadChartBadRef(t *testing.T) {
	for _, ref := range []string{
		"oci://registry.test/charts/stack",
		"oci://registry.test:5000/charts/stack",
		"oci://registry.test/charts/stack@sha256:" + strings.Repeat("a", 64),
		"oci://registry.test/:1.0",
		"oci://registry.test/charts/stack:",
		"oci://stack:1.0",
	} {
		_, err := LoadChart(t.Context(), nil, ref, nil)
		if !errors.Is(err, mirror.ErrChartRef) || !strings.Contains(err.Error(), "oci://HOST/PATH/NAME:VERSION") ||
			!strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v", ref, err)
		}
	}
	if _, err := LoadChart(t.Context(), nil, filepath.Join(t.TempDir(), "nothing-here"), nil); err == nil {
		t.Error("a chart directory that is not there was loaded")
	}
}

// TestLoadChart: a chart directory is made into the artifact helm push makes, the same bytes
// every time; the artifact in a registry is read as it is, its chart the one its reference
// names. Both give the blocks of the chart's values, overridden by the values files given,
// as entries NAME.<values path>.
func TestLoadChart(t *testing.T) {
	up, fc := chartWorld(t)
	a, err := LoadChart(t.Context(), nil, fc.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadChart(t.Context(), nil, fc.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Source.Digest == "" || a.Source.Digest != b.Source.Digest || a.root.Desc.Digest != a.Source.Digest {
		t.Errorf("built twice: %s, %s", a.Source.Digest, b.Source.Digest)
	}
	if a.Source.Path != a.Chart.Name || a.Source.Tag != mirror.VersionTag(fc.Version) || a.Source.Container != mirror.ChartContainer || a.Source.Server != "" {
		t.Errorf("source of a directory: %+v", a.Source)
	}
	if len(a.Blocks) == 0 || len(a.Images()) != len(a.Blocks) {
		t.Fatalf("blocks %+v", a.Blocks)
	}
	for i, im := range a.Images() {
		if im.Key() != a.Chart.Name+"."+a.Blocks[i].Path || im.Server != a.Blocks[i].Registry || im.Digest != a.Blocks[i].Digest {
			t.Errorf("image %d: %+v of %+v", i, im, a.Blocks[i])
		}
	}
	if len(a.root.Blobs) != 2 || a.layers[a.root.Blobs[1].Digest] == nil || a.root.Blobs[0].MediaType != chart.ConfigMediaType {
		t.Errorf("artifact %+v", a.root)
	}

	c := newClient(t)
	p, err := LoadChart(t.Context(), c, fc.Ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Digest != fc.Digest || p.Source.Server != up.Host || p.Source.Path != "charts/"+p.Chart.Name || p.Source.Tag != fc.Version {
		t.Errorf("source of %s: %+v", fc.Ref, p.Source)
	}
	if len(p.Blocks) != len(a.Blocks) || p.Chart.Version != fc.Version {
		t.Errorf("pulled: %d blocks, version %s", len(p.Blocks), p.Chart.Version)
	}
	rec := p.record()
	if rec.Ref != fc.Ref || rec.Digest != fc.Digest || rec.Name != p.Chart.Name || len(rec.Values) != 0 {
		t.Errorf("record %+v", rec)
	}

	// Values applied in order: the last file's tag wins, and the file is recorded.
	path := a.Blocks[0].Path
	values := []chart.ValuesFile{{Name: "site.yaml", Data: []byte(valuesSetting(path, "tag", "\"9.9.9\""))}}
	v, err := LoadChart(t.Context(), nil, fc.Dir, values)
	if err != nil {
		t.Fatal(err)
	}
	if v.Blocks[0].Tag != "9.9.9" || len(v.Values) != 1 || v.Values[0].Name != "site.yaml" || v.Values[0].Digest == "" {
		t.Errorf("with values: %+v, %+v", v.Blocks[0], v.Values)
	}
}

// valuesSetting is YAML setting key of the block at the dotted values path.
func valuesSetting(path, key, value string) string {
	var b strings.Builder
	parts := strings.Split(path, ".")
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":\n")
	}
	b.WriteString(strings.Repeat("  ", len(parts)) + key + ": " + value + "\n")
	return b.String()
}

// TestLoadChartNotThatChart: an artifact whose chart is not the one its reference names (another
// name, another version), or that is not a chart at all, is refused with mirror.ErrBadManifest.
func TestLoadChartNotThatChart(t *testing.T) {
	up, fc := chartWorld(t)
	src := strings.TrimPrefix(fc.Ref, "oci://")
	copyArtifact(t, up, src, up.Host+"/charts/other-name:"+fc.Version)
	copyArtifact(t, up, src, up.Host+"/charts/mini-stack:99.0.0")
	var image string
	for _, im := range fc.Images {
		if im.Tag != "" {
			image = im.Repository() + ":" + im.Tag
			break
		}
	}
	if image == "" {
		t.Fatal("no image by tag in the fixture")
	}
	c := newClient(t)
	for ref, says := range map[string]string{
		"oci://" + up.Host + "/charts/other-name:" + fc.Version: "holds chart mini-stack",
		"oci://" + up.Host + "/charts/mini-stack:99.0.0":        "holds chart mini-stack " + fc.Version,
		"oci://" + image: "",
	} {
		_, err := LoadChart(t.Context(), c, ref, nil)
		if !errors.Is(err, mirror.ErrBadManifest) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v", ref, err)
		}
	}
	_, err := LoadChart(t.Context(), c, "oci://"+up.Host+"/charts/absent:1.0.0", nil)
	if err == nil || !strings.Contains(err.Error(), "chart oci://"+up.Host+"/charts/absent:1.0.0") {
		t.Errorf("a chart that is not there: %v", err)
	}
}

// TestCreateWithChart: a bundle with a chart carries its artifact as an entry NAME.chart of
// kind chart, and every image block as NAME.<values path>, with the values path recorded.
func TestCreateWithChart(t *testing.T) {
	_, fc := chartWorld(t)
	c := newClient(t)
	ch, err := LoadChart(t.Context(), c, fc.Ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "c.tar.zst")
	res, err := createIn(t, c, CreateOptions{Charts: []*Chart{ch}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Chart == nil || m.Chart.Digest != fc.Digest || len(m.Charts) != 0 {
		t.Errorf("chart record %+v", m.Chart)
	}
	keys := map[string]archive.Image{}
	for _, im := range m.Images {
		keys[im.Key()] = im
	}
	if im := keys[ch.Chart.Name+"."+mirror.ChartContainer]; im.Kind != archive.KindChart || im.Digest != fc.Digest {
		t.Errorf("the chart's entry: %+v", im)
	}
	for _, bl := range ch.Blocks {
		im, ok := keys[ch.Chart.Name+"."+bl.Path]
		if !ok || im.ValuesPath != bl.Path || im.Kind != "" || im.Digest == "" {
			t.Errorf("block %s: %+v", bl.Path, im)
		}
	}
	if v, err := trust.Verify(t.Context(), out, nil); err != nil || len(v.Bad) > 0 {
		t.Fatalf("verify: %+v, %v", v, err)
	}
}
