package inspect

import (
	"crypto/rand"
	"os"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// Small builders of images and bundles for the tests of this package.

func randomLayer(t *testing.T, n int) testbundle.Blob {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	return testbundle.Blob{Data: data, MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
}

func config(s string) testbundle.Blob {
	return testbundle.Blob{Data: []byte(`{"architecture":"` + s + `","os":"linux"}`), MediaType: manifest.OCIConfig, Kind: archive.KindConfig}
}

// image is an OCI manifest of config and layers (subject: the image it refers to, or nil).
func image(subject *testbundle.Blob, artifactType string, c testbundle.Blob, layers ...testbundle.Blob) testbundle.Blob {
	cd := c.Descriptor()
	d := manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, ArtifactType: artifactType}
	for _, l := range layers {
		d.Layers = append(d.Layers, l.Descriptor())
	}
	if subject != nil {
		sd := subject.Descriptor()
		d.Subject = &sd
	}
	return testbundle.Blob{Data: testbundle.JSON(d), MediaType: d.MediaType, Kind: archive.KindManifest}
}

func img(container string, root testbundle.Blob) testbundle.Image {
	return testbundle.Image{Component: "c", Container: container, Server: "example.org", Path: "c/" + container, Tag: "1", Root: root}
}

// find locates the bundle at path, as verify does without a key.
func find(t *testing.T, path string) *trust.Set {
	t.Helper()
	s, err := trust.Find(t.Context(), trust.Trust{}, path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flipIn changes one byte in the middle of the bundle's entry name.
func flipIn(t *testing.T, path, name string) {
	t.Helper()
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	off, n, ok := b.EntryRange(name)
	b.Close()
	if !ok {
		t.Fatalf("no entry %s", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off+n/2] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
