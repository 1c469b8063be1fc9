package archive

import (
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/verify"
)

var (
	fmtManifest = verify.Digest([]byte("image manifest"))
	fmtConfig   = verify.Digest([]byte("config"))
	fmtLayer    = verify.Digest([]byte("layer"))
	fmtChart    = verify.Digest([]byte("chart manifest"))
	fmtSig      = verify.Digest([]byte("signature manifest"))
	fmtSigSig   = verify.Digest([]byte("a signature of the signature"))
)

// validManifest is a manifest of one image (a manifest, a config and a layer) that Check takes.
func validManifest() *Manifest {
	m := &Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType, Tool: "test",
		Layout: Layout{OCILayout: verify.Digest([]byte("layout")), Index: verify.Digest([]byte("index"))},
		Images: []Image{{Entry: imageref.Entry{Component: "synapse", Container: "main", Server: "docker.io", Path: "library/x", Tag: "1"}, Digest: fmtManifest}},
		Blobs: []Blob{{Digest: fmtManifest, Size: 300, Kind: KindManifest}, {Digest: fmtConfig, Size: 100, Kind: KindConfig},
			{Digest: fmtLayer, Size: 5000, Kind: KindLayer}},
	}
	retotal(m)
	return m
}

func retotal(m *Manifest) {
	m.Totals = Totals{Images: len(m.Images), Blobs: len(m.Blobs)}
	for _, b := range m.Blobs {
		m.Totals.BlobBytes += b.Size
	}
}

// withChart adds a chart's manifest, its image entry and its record.
func withChart(m *Manifest) {
	m.Blobs = append(m.Blobs, Blob{Digest: fmtChart, Size: 200, Kind: KindManifest})
	m.Images = append(m.Images, Image{Entry: imageref.Entry{Component: "matrix-stack", Container: "chart", Path: "matrix-stack", Tag: "1.0"}, Digest: fmtChart, Kind: KindChart})
	m.Chart = &Chart{Name: "matrix-stack", Version: "1.0", Digest: fmtChart}
}

// withReferrers adds a cosign signature of the image and a referrer of that signature.
func withReferrers(m *Manifest) {
	m.Blobs = append(m.Blobs, Blob{Digest: fmtSig, Size: 50, Kind: KindManifest}, Blob{Digest: fmtSigSig, Size: 60, Kind: KindManifest})
	m.Referrers = []Referrer{
		{Subject: fmtManifest, Digest: fmtSig, Size: 50, Tag: "sha256-" + strings.TrimPrefix(fmtManifest, "sha256:") + ".sig"},
		{Subject: fmtSig, Digest: fmtSigSig, Size: 60},
	}
}

// TestManifestCheck: a manifest is refused, as corrupt (or of a version this tool does not
// read), for every way it can contradict itself, saying what; the valid variants pass.
func TestManifestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(m *Manifest)
		keepTot bool // do not recompute the totals after edit
		is      error
		want    string
	}{
		{"valid", func(m *Manifest) {}, false, nil, ""},
		{"valid with a chart", withChart, false, nil, ""},
		{"valid with two charts", func(m *Manifest) {
			withChart(m)
			other := verify.Digest([]byte("other chart"))
			m.Blobs = append(m.Blobs, Blob{Digest: other, Size: 10, Kind: KindManifest})
			m.Images = append(m.Images, Image{Entry: imageref.Entry{Component: "other", Container: "chart"}, Digest: other, Kind: KindChart})
			m.Charts = []Chart{*m.Chart, {Name: "other", Digest: other}}
			m.Chart = nil
		}, false, nil, ""},
		{"valid with referrers", withReferrers, false, nil, ""},
		{"valid delta", func(m *Manifest) {
			m.Base = &Base{Kind: "bundle", Name: "b.tar.zst", Digest: fmtConfig}
			m.External = []Blob{{Digest: verify.Digest([]byte("base layer")), Size: 9, Kind: KindLayer}}
		}, false, nil, ""},
		{"version", func(m *Manifest) { m.FormatVersion = 2 }, false, ErrUnsupported, "format version 2"},
		{"media type", func(m *Manifest) { m.MediaType = "application/json" }, false, ErrCorrupt, `media type "application/json"`},
		{"blob digest", func(m *Manifest) { m.Blobs[2].Digest = "sha256:abc" }, false, ErrCorrupt, "blob list"},
		{"blob digest md5", func(m *Manifest) { m.Blobs[2].Digest = "md5:" + strings.Repeat("0", 32) }, false, ErrCorrupt, "blob list"},
		{"blob twice", func(m *Manifest) { m.Blobs = append(m.Blobs, m.Blobs[2]) }, false, ErrCorrupt, "blob " + fmtLayer + " listed twice"},
		{"negative size", func(m *Manifest) { m.Blobs[2].Size = -1 }, false, ErrCorrupt, "has size -1"},
		{"external digest", func(m *Manifest) {
			m.Base = &Base{Kind: "bundle"}
			m.External = []Blob{{Digest: "sha256:zz"}}
		}, false, ErrCorrupt, "external blob list"},
		{"external and carried", func(m *Manifest) {
			m.Base = &Base{Kind: "bundle"}
			m.External = []Blob{m.Blobs[2]}
		}, false, ErrCorrupt, "both carried and external"},
		{"external without base", func(m *Manifest) { m.External = []Blob{{Digest: verify.Digest([]byte("x"))}} }, false, ErrCorrupt, "external blobs without a base"},
		{"chart and charts", func(m *Manifest) {
			withChart(m)
			m.Charts = []Chart{*m.Chart, {Name: "other"}}
		}, false, ErrCorrupt, "not both"},
		{"charts of one", func(m *Manifest) {
			withChart(m)
			m.Charts, m.Chart = []Chart{*m.Chart}, nil
		}, false, ErrCorrupt, "charts for two or more"},
		{"chart recorded twice", func(m *Manifest) {
			withChart(m)
			m.Charts, m.Chart = []Chart{*m.Chart, *m.Chart}, nil
		}, false, ErrCorrupt, "chart matrix-stack recorded twice"},
		{"image digest not a blob", func(m *Manifest) { m.Images[0].Digest = fmtSig }, false, ErrCorrupt, "image synapse.main (docker.io/library/x:1): digest " + fmtSig + " is not among the blobs"},
		{"chart image without record", func(m *Manifest) { withChart(m); m.Chart = nil }, false, ErrCorrupt, "image matrix-stack.chart is a chart the manifest's chart records do not name"},
		{"chart image of another digest", func(m *Manifest) { withChart(m); m.Chart.Digest = fmtManifest }, false, ErrCorrupt, "chart records do not name"},
		{"chart record without image", func(m *Manifest) { m.Chart = &Chart{Name: "matrix-stack", Digest: fmtManifest} }, false, ErrCorrupt, "0 chart entries among the images, 1 chart records"},
		{"unknown kind", func(m *Manifest) { m.Images[0].Kind = "wasm" }, false, ErrCorrupt, `unknown kind "wasm"`},
		{"layout digest", func(m *Manifest) { m.Layout.Index = "" }, false, ErrCorrupt, "layout"},
		{"totals: images", func(m *Manifest) { m.Totals.Images++ }, true, ErrCorrupt, "totals do not add up"},
		{"totals: blobs", func(m *Manifest) { m.Totals.Blobs-- }, true, ErrCorrupt, "totals do not add up"},
		{"totals: bytes", func(m *Manifest) { m.Totals.BlobBytes++ }, true, ErrCorrupt, "totals do not add up"},
		{"referrer not carried", func(m *Manifest) {
			withReferrers(m)
			m.Blobs = m.Blobs[:len(m.Blobs)-1]
		}, false, ErrCorrupt, "referrer " + fmtSigSig + " of " + fmtSig + " is not among the bundle's manifests"},
		{"referrer a layer", func(m *Manifest) {
			withReferrers(m)
			m.Referrers[1].Digest = fmtLayer
		}, false, ErrCorrupt, "is not among the bundle's manifests"},
		{"subject unknown", func(m *Manifest) {
			withReferrers(m)
			m.Referrers[0].Subject = fmtLayer
		}, false, ErrCorrupt, "its subject is neither an image's manifest nor a referrer listed before it"},
		{"subject listed after", func(m *Manifest) {
			withReferrers(m)
			m.Referrers[0], m.Referrers[1] = m.Referrers[1], m.Referrers[0]
		}, false, ErrCorrupt, "referrer " + fmtSigSig + " of " + fmtSig + ": its subject is neither"},
		{"tag of another subject", func(m *Manifest) {
			withReferrers(m)
			m.Referrers[0].Tag = "sha256-" + strings.TrimPrefix(fmtConfig, "sha256:") + ".sig"
		}, false, ErrCorrupt, "is not its subject's"},
		{"referrer twice", func(m *Manifest) {
			withReferrers(m)
			m.Referrers = append(m.Referrers, m.Referrers[1])
		}, false, ErrCorrupt, "listed twice"},
		{"missing without reason", func(m *Manifest) {
			m.Missing = []Missing{{Entry: imageref.Entry{Component: "element-web", Container: "main"}}}
		}, false, ErrCorrupt, `missing container "element-web.main": component, container and reason are required`},
		{"missing and carried", func(m *Manifest) {
			m.Missing = []Missing{{Entry: imageref.Entry{Component: "synapse", Container: "main"}, Reason: "404"}}
		}, false, ErrCorrupt, "container synapse.main is both carried and missing"},
		{"missing twice", func(m *Manifest) {
			ms := Missing{Entry: imageref.Entry{Component: "element-web", Container: "main"}, Reason: "404"}
			m.Missing = []Missing{ms, ms}
		}, false, ErrCorrupt, "element-web.main is both carried and missing"},
		{"file name", func(m *Manifest) {
			m.Files = []PlainFile{{Name: "../unbundle", Digest: fmtConfig}}
		}, false, ErrCorrupt, `file name "../unbundle"`},
		{"file digest", func(m *Manifest) {
			m.Files = []PlainFile{{Name: "unbundle", Digest: "sha256:1"}}
		}, false, ErrCorrupt, "file unbundle"},
		{"file size", func(m *Manifest) {
			m.Files = []PlainFile{{Name: "unbundle", Digest: fmtConfig, Size: -2}}
		}, false, ErrCorrupt, "file unbundle has size -2"},
		{"file twice", func(m *Manifest) {
			f := PlainFile{Name: "unbundle", Digest: fmtConfig, Size: 2}
			m.Files = []PlainFile{f, f}
		}, false, ErrCorrupt, "file unbundle listed twice"},
		{"provenance: policy digest", func(m *Manifest) {
			m.Provenance = &Provenance{Policy: File{Name: "policy.yaml", Digest: fmtConfig, Content: "rules: []"}}
		}, false, ErrCorrupt, "provenance: policy.yaml: digest " + fmtConfig + " is not its content's"},
		{"provenance: trusted root digest", func(m *Manifest) {
			m.Provenance = &Provenance{Policy: File{Name: "policy.yaml", Digest: verify.Digest([]byte("p")), Content: "p"},
				TrustedRoot: &File{Name: "trusted_root.json", Digest: verify.Digest([]byte("p")), Content: "{}"}}
		}, false, ErrCorrupt, "trusted_root.json"},
		{"provenance: another image", func(m *Manifest) {
			m.Provenance = &Provenance{Policy: File{Name: "policy.yaml", Digest: verify.Digest([]byte("p")), Content: "p"},
				Images: []ImageProvenance{{Image: "docker.io/library/x", Digest: fmtLayer, Status: "verified"}}}
		}, false, ErrCorrupt, "provenance: docker.io/library/x " + fmtLayer + " is not an image of the bundle"},
		{"provenance: valid", func(m *Manifest) {
			m.Provenance = &Provenance{Policy: File{Name: "policy.yaml", Digest: verify.Digest([]byte("p")), Content: "p"},
				TrustedRoot: &File{Name: "trusted_root.json", Digest: verify.Digest([]byte("{}")), Content: "{}"},
				Images:      []ImageProvenance{{Image: "docker.io/library/x", Digest: fmtManifest, Status: "verified"}}}
		}, false, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validManifest()
			tc.edit(m)
			if !tc.keepTot {
				retotal(m)
			}
			err := m.Check()
			if tc.is == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %v saying %q", err, tc.is, tc.want)
			}
		})
	}
}

// TestDecodeManifest: bundle.json that is not JSON, or does not check, is refused naming it;
// a valid one is indexed for constant-time lookups that agree with the lists.
func TestDecodeManifest(t *testing.T) {
	if _, err := decodeManifest([]byte("{")); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), ManifestName) {
		t.Fatalf("not JSON: %v", err)
	}
	bad := validManifest()
	bad.Totals.Blobs = 9
	if _, err := decodeManifest(mustJSON(t, bad)); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), ManifestName+": ") {
		t.Fatalf("totals wrong: %v", err)
	}
	m := validManifest()
	m.Base = &Base{Kind: "inventory"}
	ext := Blob{Digest: verify.Digest([]byte("base layer")), Size: 9, Kind: KindLayer}
	m.External = []Blob{ext}
	built := *m // not decoded: the lookups scan
	got, err := decodeManifest(mustJSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if got.byDigest == nil || built.byDigest != nil {
		t.Fatal("a decoded manifest is not indexed")
	}
	for _, mm := range []*Manifest{&built, got} {
		if b, ok := mm.BlobByDigest(fmtLayer); !ok || b != m.Blobs[2] {
			t.Errorf("BlobByDigest(layer) = %+v, %v", b, ok)
		}
		if _, ok := mm.BlobByDigest(ext.Digest); ok {
			t.Error("an external blob is found as carried")
		}
		if b, ok := mm.ExternalBlob(ext.Digest); !ok || b != ext {
			t.Errorf("ExternalBlob = %+v, %v", b, ok)
		}
		if _, ok := mm.ExternalBlob(fmtLayer); ok {
			t.Error("a carried blob is found as external")
		}
		if _, ok := mm.BlobByDigest(fmtSig); ok {
			t.Error("a blob not listed is found")
		}
	}
}

// TestExpected: the entries a manifest allows are the layout files (of any size), every blob
// and every plain file, with their digests.
func TestExpected(t *testing.T) {
	m := validManifest()
	m.Files = []PlainFile{{Name: "unbundle-linux-amd64", Digest: fmtConfig, Size: 77, Executable: true}}
	want := map[string]Blob{
		LayoutName:             {Digest: m.Layout.OCILayout, Size: -1},
		IndexName:              {Digest: m.Layout.Index, Size: -1},
		BlobName(fmtManifest):  m.Blobs[0],
		BlobName(fmtConfig):    m.Blobs[1],
		BlobName(fmtLayer):     m.Blobs[2],
		"unbundle-linux-amd64": {Digest: fmtConfig, Size: 77},
	}
	got := m.expected()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	if _, ok := got[ManifestName]; ok {
		t.Error("bundle.json is among the entries the manifest lists")
	}
}

func TestCheckFileName(t *testing.T) {
	for name, ok := range map[string]bool{
		"unbundle-linux-amd64": true, "values.yaml": true, ".hidden": true, strings.Repeat("a", 255): true,
		"": false, ".": false, "..": false, "a/b": false, `a\b`: false, "a\x00b": false, strings.Repeat("a", 256): false,
		ManifestName: false, LayoutName: false, IndexName: false, "blobs": false,
	} {
		if err := CheckFileName(name); (err == nil) != ok {
			t.Errorf("CheckFileName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

// TestCheckName: entry names that could leave the directory they are extracted into are
// refused as corrupt.
func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"bundle.json": true, "blobs/sha256/" + strings.Repeat("a", 64): true, "a..b": true, "..a": true,
		"": false, "/etc/passwd": false, "..": false, "../x": false, "a/../../x": false, "a//b": false, "a/./b": false,
		"a/": false, `a\b`: false, "./a": false,
	} {
		err := checkName(name)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("checkName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

// TestRefs: the references and keys that messages, the ConfigMap and list print.
func TestRefs(t *testing.T) {
	d := fmtManifest
	for _, tc := range []struct {
		im   Image
		want string
	}{
		{Image{Entry: imageref.Entry{Server: "docker.io", Path: "library/x", Tag: "1"}, Digest: d}, "docker.io/library/x:1"},
		{Image{Entry: imageref.Entry{Server: "docker.io", Path: "library/x"}, Digest: d}, "docker.io/library/x@" + d},
		{Image{Entry: imageref.Entry{Path: "matrix-stack", Tag: "1.0"}, Digest: d, Kind: KindChart}, "matrix-stack:1.0"},
	} {
		if got := tc.im.Ref(); got != tc.want {
			t.Errorf("Ref() = %q, want %q", got, tc.want)
		}
	}
	ms := Missing{Entry: imageref.Entry{Component: "a", Container: "b", Server: "ghcr.io", Path: "p"}, ListedDigest: d}
	if ms.Ref() != "ghcr.io/p@"+d || ms.Key() != "a.b" {
		t.Errorf("Missing: %q %q", ms.Ref(), ms.Key())
	}
	ms.Tag = "2"
	if ms.Ref() != "ghcr.io/p:2" {
		t.Errorf("Missing with a tag: %q", ms.Ref())
	}
	for _, tc := range []struct {
		im   Image
		want bool
	}{
		{Image{}, true}, {Image{Kind: KindChart}, false}, {Image{ValuesPath: "synapse.image"}, false},
	} {
		if tc.im.IsContainer() != tc.want {
			t.Errorf("%+v: IsContainer %v", tc.im, !tc.want)
		}
	}
	if got := BlobName(d); got != "blobs/sha256/"+strings.TrimPrefix(d, "sha256:") {
		t.Errorf("BlobName = %q", got)
	}
}

func TestAllCharts(t *testing.T) {
	m := validManifest()
	if len(m.AllCharts()) != 0 || m.ChartOf("matrix-stack") != nil {
		t.Fatal("a manifest without charts has some")
	}
	withChart(m)
	if cs := m.AllCharts(); len(cs) != 1 || cs[0] != m.Chart || m.ChartOf("matrix-stack") != m.Chart {
		t.Fatalf("one chart: %v", cs)
	}
	m.Charts, m.Chart = []Chart{{Name: "a"}, {Name: "b"}}, nil
	cs := m.AllCharts()
	if len(cs) != 2 || cs[1] != &m.Charts[1] || m.ChartOf("b") != &m.Charts[1] || m.ChartOf("c") != nil {
		t.Fatalf("two charts: %v", cs)
	}
}
