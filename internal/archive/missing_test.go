package archive

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// TestCheckMissing: a partial bundle's missing containers are named once, with a reason, and
// are not among the images it carries; the field reads back from JSON as written.
func TestCheckMissing(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	base := func() *Manifest {
		m := &Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType,
			Blobs:   []Blob{{Digest: d("a"), Size: 10, Kind: KindManifest}},
			Layout:  Layout{OCILayout: d("c"), Index: d("d")},
			Images:  []Image{{Entry: imageref.Entry{Component: "synapse", Container: "synapse", Server: "r", Path: "s", Tag: "1"}, Digest: d("a")}},
			Missing: []Missing{{Entry: imageref.Entry{Component: "synapse", Container: "haproxy", Server: "docker.io", Path: "library/haproxy", Tag: "2.8"}, Reason: "manifest unknown"}}}
		m.Totals = Totals{Images: 1, Blobs: 1, BlobBytes: 10}
		return m
	}
	raw, err := json.Marshal(base())
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeManifest(raw)
	if err != nil {
		t.Fatalf("partial manifest: %v", err)
	}
	if len(m.Missing) != 1 || m.Missing[0].Key() != "synapse.haproxy" || m.Missing[0].Ref() != "docker.io/library/haproxy:2.8" {
		t.Errorf("missing read back: %+v", m.Missing)
	}
	if strings.Contains(string(mustJSON(t, &Manifest{})), "missing") {
		t.Error("a complete bundle's manifest names missing")
	}
	for name, edit := range map[string]func(m *Manifest){
		"carried and missing": func(m *Manifest) { m.Missing[0].Container = "synapse" },
		"twice":               func(m *Manifest) { m.Missing = append(m.Missing, m.Missing[0]) },
		"no reason":           func(m *Manifest) { m.Missing[0].Reason = "" },
		"no container":        func(m *Manifest) { m.Missing[0].Container = "" },
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

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
