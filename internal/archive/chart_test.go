package archive

import (
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// TestCheckChart: a chart record and the one image of kind chart go together, with one digest.
func TestCheckChart(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	base := func() *Manifest {
		m := &Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType,
			Blobs:  []Blob{{Digest: d("a"), Size: 10, Kind: KindManifest}, {Digest: d("b"), Size: 20, Kind: KindManifest}},
			Layout: Layout{OCILayout: d("c"), Index: d("d")},
			Images: []Image{{Entry: imageref.Entry{Component: "mini", Container: "chart", Path: "mini", Tag: "1.0.0"}, Digest: d("a"), Kind: KindChart},
				{Entry: imageref.Entry{Component: "mini", Container: "synapse.image", Server: "r", Path: "s", Tag: "1"}, ValuesPath: "synapse.image", Digest: d("b")}},
			Chart: &Chart{Ref: "mini", Name: "mini", Version: "1.0.0", Digest: d("a")}}
		m.Totals = Totals{Images: 2, Blobs: 2, BlobBytes: 30}
		return m
	}
	if err := base().Check(); err != nil {
		t.Fatalf("valid chart manifest: %v", err)
	}
	for name, edit := range map[string]func(m *Manifest){
		"no chart record":       func(m *Manifest) { m.Chart = nil },
		"record, no entry":      func(m *Manifest) { m.Images[0].Kind = "" },
		"another digest":        func(m *Manifest) { m.Chart.Digest = d("b") },
		"two chart entries":     func(m *Manifest) { m.Images[1].Kind = KindChart },
		"unknown kind":          func(m *Manifest) { m.Images[1].Kind = "plugin" },
		"entry not among blobs": func(m *Manifest) { m.Images[0].Digest, m.Chart.Digest = d("e"), d("e") },
	} {
		t.Run(name, func(t *testing.T) {
			m := base()
			edit(m)
			if err := m.Check(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	if im := base().Images[0]; im.Ref() != "mini:1.0.0" || im.IsContainer() || base().Images[1].IsContainer() {
		t.Errorf("chart entry ref %q", im.Ref())
	}
}

// TestCheckCharts: two charts or more are recorded in charts, each with its one entry of kind
// chart; chart and charts are not both given, and a name is recorded once.
func TestCheckCharts(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	base := func() *Manifest {
		m := &Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType,
			Blobs:  []Blob{{Digest: d("a"), Size: 10, Kind: KindManifest}, {Digest: d("b"), Size: 20, Kind: KindManifest}},
			Layout: Layout{OCILayout: d("c"), Index: d("d")},
			Images: []Image{{Entry: imageref.Entry{Component: "mini", Container: "chart", Path: "mini", Tag: "1.0.0"}, Digest: d("a"), Kind: KindChart},
				{Entry: imageref.Entry{Component: "cert-manager", Container: "chart", Path: "cert-manager", Tag: "1.15.0"}, Digest: d("b"), Kind: KindChart}},
			Charts: []Chart{{Ref: "mini", Name: "mini", Version: "1.0.0", Digest: d("a")}, {Ref: "cm", Name: "cert-manager", Version: "1.15.0", Digest: d("b")}}}
		m.Totals = Totals{Images: 2, Blobs: 2, BlobBytes: 30}
		return m
	}
	m := base()
	if err := m.Check(); err != nil {
		t.Fatalf("two charts: %v", err)
	}
	if got := m.AllCharts(); len(got) != 2 || got[1].Name != "cert-manager" || m.ChartOf("mini").Digest != d("a") || m.ChartOf("x") != nil {
		t.Errorf("AllCharts %v", got)
	}
	for name, edit := range map[string]func(m *Manifest){
		"chart and charts": func(m *Manifest) { m.Chart = &m.Charts[0] },
		"charts of one":    func(m *Manifest) { m.Charts = m.Charts[:1]; m.Images = m.Images[:1] },
		"one name twice":   func(m *Manifest) { m.Charts[1].Name = "mini" },
		"entry of another": func(m *Manifest) { m.Images[1].Digest = d("a") },
		"record, no entry": func(m *Manifest) { m.Images[1].Kind = "" },
	} {
		t.Run(name, func(t *testing.T) {
			m := base()
			edit(m)
			if err := m.Check(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}
