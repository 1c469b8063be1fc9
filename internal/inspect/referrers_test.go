package inspect

import (
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// TestReferrers: each image with referrers maps to them (a referrer of a referrer one level
// deeper); an image without any is not in the map; a bundle that carries none has none.
func TestReferrers(t *testing.T) {
	const sbom, sig = "application/spdx+json", "application/vnd.dev.sigstore.bundle.v0.3+json"
	empty := testbundle.Blob{Data: []byte("{}"), MediaType: manifest.OCIEmpty, Kind: archive.KindConfig}
	ca, cb := config("amd64"), config("arm64")
	la, lb := randomLayer(t, 100), randomLayer(t, 100)
	ma, mb := image(nil, "", ca, la), image(nil, "", cb, lb)
	sbomLayer := testbundle.Blob{Data: []byte(`{"spdxVersion":"SPDX-2.3"}`), MediaType: sbom, Kind: archive.KindLayer}
	sigLayer := testbundle.Blob{Data: []byte(`{"sig":1}`), MediaType: sig, Kind: archive.KindLayer}
	sbomOfA := image(&ma, sbom, empty, sbomLayer)
	sigOfSBOM := image(&sbomOfA, sig, empty, sigLayer)
	ref := func(subject, r testbundle.Blob) archive.Referrer {
		return archive.Referrer{Subject: subject.Digest(), Digest: r.Digest(), MediaType: r.MediaType, Size: int64(len(r.Data)),
			ArtifactType: manifest.ArtifactType(r.Data)}
	}
	images := []testbundle.Image{img("a", ma), img("b", mb)}
	blobs := []testbundle.Blob{ma, mb, sbomOfA, sigOfSBOM, ca, cb, empty, la, lb, sbomLayer, sigLayer}

	path, err := testbundle.WriteWith(t.TempDir(), "r", images, blobs,
		testbundle.Extra{Referrers: []archive.Referrer{ref(ma, sbomOfA), ref(sbomOfA, sigOfSBOM)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	refs, err := Referrers(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || len(refs[mb.Digest()]) != 0 {
		t.Fatalf("referrers = %v, want a's only", refs)
	}
	got := refs[ma.Digest()]
	if len(got) != 2 || got[0].Digest != sbomOfA.Digest() || got[0].ArtifactType != sbom || got[0].Depth != 1 ||
		got[1].Digest != sigOfSBOM.Digest() || got[1].Depth != 2 {
		t.Fatalf("a's referrers = %+v, want the SBOM at depth 1, its signature at depth 2", got)
	}

	// None carried: none to map.
	path, err = testbundle.Write(t.TempDir(), "n", images, []testbundle.Blob{ma, mb, ca, cb, la, lb})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	if refs, err := Referrers(t.Context(), nb); err != nil || refs != nil {
		t.Fatalf("no referrers carried: %v, %v; want nil, nil", refs, err)
	}
}
