package create

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// TestCheckProvenanceBounded: the offline signature check reads the referrers through
// internal/graph, so their manifests are bounded together: 20 referrers of 3.5 MiB each
// (each under manifest.MaxBytes, 70 MiB in all) are refused before one is read, as a
// corrupt bundle, where reading them one by one would hold them all.
func TestCheckProvenanceBounded(t *testing.T) {
	fan := testbundle.FanOut(1, 0) // a manifest, its config and its layer
	image := testbundle.Image{Component: "c", Container: "x", Server: "example.org", Path: "x", Tag: "1", Root: fan[0]}
	subject := fan[0].Descriptor()
	metas := []testbundle.Blob{fan[0]}
	var refs []archive.Referrer
	for i := range 20 {
		raw := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, ArtifactType: "text/plain",
			Config: &manifest.Descriptor{MediaType: manifest.OCIEmpty, Digest: fan[1].Digest(), Size: 2}, Subject: &subject,
			Annotations: map[string]string{"n": strings.Repeat("x", i+1)}})
		r := testbundle.Blob{Data: append(raw, bytes.Repeat([]byte(" "), 3584<<10)...), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
		metas = append(metas, r)
		refs = append(refs, archive.Referrer{Subject: subject.Digest, Digest: r.Digest(), MediaType: r.MediaType, Size: int64(len(r.Data)), ArtifactType: "text/plain"})
	}
	path, err := testbundle.WriteWith(t.TempDir(), "b", []testbundle.Image{image}, append(metas, fan[1:]...), testbundle.Extra{Referrers: refs})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	alloc := allocated(func() { _, err = CheckProvenance(t.Context(), b, nil) })
	if !errors.Is(err, archive.ErrCorrupt) || !errors.Is(err, manifest.ErrGraph) {
		t.Fatalf("got %v, want a corrupt bundle, its manifests too large in all", err)
	}
	if alloc > 16<<20 {
		t.Errorf("the check allocated %d MiB refusing them", alloc>>20)
	}
}
