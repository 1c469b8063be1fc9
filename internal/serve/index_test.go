package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// indexWorld is two images of one repository, app, each a manifest of the same config and a
// layer of its own, and a signature whose subject is the second.
type indexWorld struct {
	config, layerA, layerB, manA, manB, sig testbundle.Blob
}

func newIndexWorld() indexWorld {
	var w indexWorld
	w.config = testbundle.Blob{Data: []byte(`{"architecture":"amd64","os":"linux"}`), MediaType: manifest.OCIConfig, Kind: archive.KindConfig}
	w.layerA = testbundle.Blob{Data: []byte("layer a"), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	w.layerB = testbundle.Blob{Data: []byte("layer b"), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	man := func(layer testbundle.Blob, subject *manifest.Descriptor) testbundle.Blob {
		cd, ld := w.config.Descriptor(), layer.Descriptor()
		return testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd,
			Layers: []manifest.Descriptor{ld}, Subject: subject}), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	}
	w.manA, w.manB = man(w.layerA, nil), man(w.layerB, nil)
	subject := w.manB.Descriptor()
	w.sig = man(w.layerA, &subject)
	return w
}

func (w indexWorld) image(tag string, root testbundle.Blob) testbundle.Image {
	return testbundle.Image{Component: "c", Container: "app" + tag, Server: "example.org", Path: "app", Tag: tag, Root: root}
}

func openWith(t *testing.T, name string, images []testbundle.Image, blobs []testbundle.Blob, x testbundle.Extra) *archive.Bundle {
	t.Helper()
	path, err := testbundle.WriteWith(t.TempDir(), name, images, blobs, x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func get(r *Registry, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	return w
}

// TestIndexLaterTagWins: a tag two bundles map to different digests is the later bundle's, and
// the change is logged naming the repository, the tag, both digests and the later bundle; the
// earlier image's manifest is still served by digest.
func TestIndexLaterTagWins(t *testing.T) {
	w := newIndexWorld()
	first := openWith(t, "first", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config, w.layerA}, testbundle.Extra{})
	second := openWith(t, "second", []testbundle.Image{w.image("1", w.manB)}, []testbundle.Blob{w.manB, w.config, w.layerB}, testbundle.Extra{})
	var logged bytes.Buffer
	r, err := New(t.Context(), []*archive.Bundle{first, second}, WithLog(log.New(&logged, "", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if got := get(r, "/v2/app/manifests/1"); got.Code != 200 || !bytes.Equal(got.Body.Bytes(), w.manB.Data) {
		t.Errorf("app:1 is %d %.40q, want the second bundle's manifest", got.Code, got.Body.String())
	}
	if got := get(r, "/v2/app/manifests/"+w.manA.Digest()); got.Code != 200 {
		t.Errorf("the first bundle's manifest by digest: %d", got.Code)
	}
	want := "app:1 is " + w.manB.Digest() + " in second.tar.zst, was " + w.manA.Digest()
	if !strings.Contains(logged.String(), want) {
		t.Errorf("log %q does not say %q", logged.String(), want)
	}
	if got, want := r.Summary(), "1 repositories, 1 tags, 2 images"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}

	// The same tag to the same digest in both: nothing to log.
	logged.Reset()
	again := openWith(t, "again", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config, w.layerA}, testbundle.Extra{})
	if _, err := New(t.Context(), []*archive.Bundle{first, again}, WithLog(log.New(&logged, "", 0))); err != nil || logged.Len() != 0 {
		t.Errorf("the same tag twice: %v, logged %q", err, logged.String())
	}
}

// TestIndexReferrers: a referrer carried under a cosign tag is served under that tag and, by
// its subject, once in the referrers API's answer, however many times the bundle lists it.
func TestIndexReferrers(t *testing.T) {
	w := newIndexWorld()
	tag := manifest.CosignTag(w.manB.Digest(), "sig")
	sd := w.sig.Descriptor()
	refs := []archive.Referrer{
		{Subject: w.manB.Digest(), Digest: sd.Digest, MediaType: sd.MediaType, Size: sd.Size},
		{Subject: w.manB.Digest(), Digest: sd.Digest, MediaType: sd.MediaType, Size: sd.Size, Tag: tag},
	}
	b := openWith(t, "b", []testbundle.Image{w.image("2", w.manB)}, []testbundle.Blob{w.manB, w.sig, w.config, w.layerA, w.layerB},
		testbundle.Extra{Referrers: refs})
	r, err := New(t.Context(), []*archive.Bundle{b})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(r, "/v2/app/manifests/"+tag); got.Code != 200 || !bytes.Equal(got.Body.Bytes(), w.sig.Data) {
		t.Errorf("the cosign tag: %d", got.Code)
	}
	got := get(r, "/v2/app/referrers/"+w.manB.Digest())
	var idx struct{ Manifests []manifest.Descriptor }
	if err := json.Unmarshal(got.Body.Bytes(), &idx); err != nil || got.Code != 200 {
		t.Fatalf("referrers of the image: %d %v", got.Code, err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sd.Digest {
		t.Errorf("referrers of the image: %+v, want the signature once", idx.Manifests)
	}
	if got, want := r.Summary(), "1 repositories, 2 tags, 1 images"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// TestNewUncarried: a delta served without the base that carries its external blobs is
// refused, naming each blob, its kind and the base; with a bundle carrying them it is served.
func TestNewUncarried(t *testing.T) {
	w := newIndexWorld()
	base := &archive.Base{Kind: "bundle", Name: "full.tar.zst", Digest: w.layerA.Digest()}
	external := []archive.Blob{{Digest: w.layerA.Digest(), Size: int64(len(w.layerA.Data)), Kind: archive.KindLayer}}
	delta := openWith(t, "delta", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config},
		testbundle.Extra{Base: base, External: external})
	_, err := New(t.Context(), []*archive.Bundle{delta})
	want := w.layerA.Digest() + " (layer of delta bundle made against bundle full.tar.zst)"
	if !errors.Is(err, archive.ErrNotFound) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "1 blobs") {
		t.Fatalf("a delta alone: %v, want it to name %s", err, want)
	}
	full := openWith(t, "full", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config, w.layerA}, testbundle.Extra{})
	r, err := New(t.Context(), []*archive.Bundle{delta, full})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(r, "/v2/app/blobs/"+w.layerA.Digest()); got.Code != 200 || got.Body.String() != "layer a" {
		t.Errorf("the external layer from the full bundle: %d", got.Code)
	}
}

// TestBundleName: a bundle opened through trust is named by its file; one opened otherwise by
// when it was created.
func TestBundleName(t *testing.T) {
	w := newIndexWorld()
	b := openWith(t, "named", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config, w.layerA}, testbundle.Extra{})
	if got := bundleName(b); got != "named.tar.zst" {
		t.Errorf("bundleName of a trusted bundle = %q", got)
	}
	path, err := testbundle.Write(t.TempDir(), "raw", []testbundle.Image{w.image("1", w.manA)}, []testbundle.Blob{w.manA, w.config, w.layerA})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := archive.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if got := bundleName(raw); got != "a bundle created 2025-01-02T03:04:05Z" {
		t.Errorf("bundleName of a bundle opened without trust = %q", got)
	}
}
