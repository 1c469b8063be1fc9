package graph

import (
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// Small builders of manifests and bundles for the tests of this package.

func layer(s string) testbundle.Blob {
	return testbundle.Blob{Data: []byte(s), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
}

func config(s string) testbundle.Blob {
	return testbundle.Blob{Data: []byte(`{"architecture":"` + s + `","os":"linux"}`), MediaType: manifest.OCIConfig, Kind: archive.KindConfig}
}

// doc is a manifest or index as a blob of the bundle.
func doc(d manifest.Doc) testbundle.Blob {
	kind := archive.KindManifest
	if manifest.IsIndex(d.MediaType) {
		kind = archive.KindIndex
	}
	d.SchemaVersion = 2
	return testbundle.Blob{Data: testbundle.JSON(d), MediaType: d.MediaType, Kind: kind}
}

// image is an OCI manifest of config and layers.
func image(c testbundle.Blob, layers ...testbundle.Blob) testbundle.Blob {
	cd := c.Descriptor()
	var ls []manifest.Descriptor
	for _, l := range layers {
		ls = append(ls, l.Descriptor())
	}
	return doc(manifest.Doc{MediaType: manifest.OCIManifest, Config: &cd, Layers: ls})
}

// index is an OCI index of children.
func index(children ...manifest.Descriptor) testbundle.Blob {
	return doc(manifest.Doc{MediaType: manifest.OCIIndex, Manifests: children})
}

// on is b's descriptor on platform os/arch.
func on(b testbundle.Blob, os, arch string) manifest.Descriptor {
	d := b.Descriptor()
	d.Platform = &manifest.Platform{OS: os, Architecture: arch}
	return d
}

// emptyConfig is the empty config of OCI 1.1 artifacts.
var emptyConfig = testbundle.Blob{Data: []byte("{}"), MediaType: manifest.OCIEmpty, Kind: archive.KindConfig}

// artifact is an OCI 1.1 referrer of subject (none when nil) of type at, and its one layer.
func artifact(at string, subject *testbundle.Blob, content string) (testbundle.Blob, testbundle.Blob) {
	empty := emptyConfig.Descriptor()
	l := testbundle.Blob{Data: []byte(content), MediaType: at, Kind: archive.KindLayer}
	d := manifest.Doc{MediaType: manifest.OCIManifest, ArtifactType: at, Config: &empty, Layers: []manifest.Descriptor{l.Descriptor()}}
	if subject != nil {
		sd := subject.Descriptor()
		d.Subject = &sd
	}
	return doc(d), l
}

// signature is a cosign signature manifest (found under a tag) and its layer.
func signature(content string) (testbundle.Blob, testbundle.Blob) {
	l := testbundle.Blob{Data: []byte(content), MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Kind: archive.KindLayer}
	return image(config("signature"), l), l
}

// ref is the bundle's record of referrer r of subject (under cosign's tag when tag is a
// suffix: "sig").
func ref(subject, r testbundle.Blob, tag string) archive.Referrer {
	out := archive.Referrer{Subject: subject.Digest(), Digest: r.Digest(), MediaType: r.MediaType, Size: int64(len(r.Data)),
		ArtifactType: manifest.ArtifactType(r.Data)}
	if tag != "" {
		out.Tag = manifest.CosignTag(subject.Digest(), tag)
	}
	return out
}

// world is a bundle of two images in two repositories, sharing a layer, with referrers:
//
//	c.a, c.a2  a:1, a:latest   index -> amd (config, shared, amdOnly), arm (config, shared, armOnly), att
//	c.b        b:1             single (config, shared, bOnly)
//	referrers: sig of index (cosign tag), sbom of amd (OCI 1.1), sbomSig of sbom, attRef of att,
//	           bSig of single (cosign tag)
type world struct {
	amdConfig, armConfig, bConfig, shared, amdOnly, armOnly, bOnly testbundle.Blob
	amd, arm, att, index, single                                   testbundle.Blob
	sig, sbom, sbomSig, attRef, bSig                               testbundle.Blob
	images                                                         []testbundle.Image
	blobs                                                          []testbundle.Blob
	referrers                                                      []archive.Referrer
}

func newWorld() *world {
	w := &world{amdConfig: config("amd64"), armConfig: config("arm64"), bConfig: config("b"),
		shared: layer("shared"), amdOnly: layer("amd only"), armOnly: layer("arm only"), bOnly: layer("b only")}
	w.amd = image(w.amdConfig, w.shared, w.amdOnly)
	w.arm = image(w.armConfig, w.shared, w.armOnly)
	w.att = image(config("attestation"), layer("in-toto"))
	attD := on(w.att, "unknown", "unknown")
	attD.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": w.amd.Digest()}
	w.index = index(on(w.amd, "linux", "amd64"), on(w.arm, "linux", "arm64"), attD)
	w.single = image(w.bConfig, w.shared, w.bOnly)
	var sigL, sbomL, sbomSigL, attRefL, bSigL testbundle.Blob
	w.sig, sigL = signature("sig of a")
	w.sbom, sbomL = artifact("application/spdx+json", &w.amd, "sbom of amd")
	w.sbomSig, sbomSigL = artifact("application/vnd.dev.sigstore.bundle.v0.3+json", &w.sbom, "sig of the sbom")
	w.attRef, attRefL = artifact("text/plain", &w.att, "a note on the attestation")
	w.bSig, bSigL = signature("sig of b")
	w.images = []testbundle.Image{
		{Component: "c", Container: "a", Server: "example.org", Path: "a", Tag: "1", Root: w.index},
		{Component: "c", Container: "b", Server: "example.org", Path: "b", Tag: "1", Root: w.single},
		{Component: "c", Container: "a2", Server: "example.org", Path: "a", Tag: "latest", Root: w.index},
	}
	w.referrers = []archive.Referrer{ref(w.index, w.sig, "sig"), ref(w.amd, w.sbom, ""), ref(w.single, w.bSig, "sig"),
		ref(w.sbom, w.sbomSig, ""), ref(w.att, w.attRef, "")}
	w.blobs = append(w.metas(), w.amdConfig, w.armConfig, w.bConfig, config("attestation"), config("signature"), emptyConfig,
		w.shared, w.amdOnly, w.armOnly, w.bOnly, layer("in-toto"), sigL, sbomL, sbomSigL, attRefL, bSigL)
	return w
}

// metas are the world's manifests and indexes.
func (w *world) metas() []testbundle.Blob {
	return []testbundle.Blob{w.index, w.amd, w.arm, w.att, w.single, w.sig, w.sbom, w.sbomSig, w.attRef, w.bSig}
}

// open writes a bundle of the world's images (those given; all when none) and opens it.
func (w *world) open(t *testing.T, keys ...string) *archive.Bundle {
	t.Helper()
	images := w.images
	if len(keys) > 0 {
		images = nil
		for _, k := range keys {
			for _, im := range w.images {
				if im.Component+"."+im.Container == k {
					images = append(images, im)
				}
			}
		}
	}
	return openBundle(t, images, dedupe(w.blobs), testbundle.Extra{Referrers: w.referrers})
}

func openBundle(t *testing.T, images []testbundle.Image, blobs []testbundle.Blob, x testbundle.Extra) *archive.Bundle {
	t.Helper()
	path, err := testbundle.WriteWith(t.TempDir(), "b", images, blobs, x)
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

func dedupe(blobs []testbundle.Blob) []testbundle.Blob {
	seen := map[string]bool{}
	var out []testbundle.Blob
	for _, b := range blobs {
		if !seen[b.Digest()] {
			seen[b.Digest()] = true
			out = append(out, b)
		}
	}
	return out
}

// digests are the digests of blobs, for comparisons.
func digests(blobs ...testbundle.Blob) []string {
	out := make([]string, len(blobs))
	for i, b := range blobs {
		out[i] = b.Digest()
	}
	return out
}

func nodeDigests(ns []*manifest.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Desc.Digest
	}
	return out
}

func descDigests(ds []manifest.Descriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Digest
	}
	return out
}
