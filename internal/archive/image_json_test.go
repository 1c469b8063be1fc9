package archive

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

func TestImageJSONUnchanged(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	const d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	im := Image{}
	im.Component, im.Container, im.Server, im.Path, im.Tag = "synapse", "main", "ghcr.io", "element-hq/synapse", "v1.114.0"
	im.ListedDigest, im.Digest, im.UpstreamDigest = d1, d2, d3
	im.MediaType, im.Size, im.Platforms = "application/vnd.oci.image.index.v1+json", 1234, []string{"linux/amd64", "linux/arm64"}
	im.Kind, im.ValuesPath = KindChart, "synapse.image"
	untagged := Image{}
	untagged.Component, untagged.Container, untagged.Server, untagged.Path, untagged.Digest = "a", "b", "docker.io", "library/x", d2
	ms := Missing{}
	ms.Component, ms.Container, ms.Server, ms.Path, ms.Tag = "adminbot", "haproxy", "docker.io", "library/haproxy", "2.8"
	ms.ListedDigest, ms.ValuesPath, ms.Reason = d1, "haproxy.image", "manifest unknown"
	m := Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType, Tool: "bundle test",
		Created: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Source: Source{Name: "l.yml", Digest: d3, Content: "x"},
		Images: []Image{im, untagged}, Missing: []Missing{ms, {}}}
	got, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// testdata/image-records.json is the bundle.json that the code before imageref.Entry was
	// embedded wrote for m (json.MarshalIndent, as bundle create writes): the format must not
	// change with the Go types.
	want, err := os.ReadFile("testdata/image-records.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bundle.json changed:\n%s\nwant:\n%s", got, want)
	}
	var back Manifest
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Images[0].Key() != "synapse.main" || back.Images[0].Ref() != "ghcr.io/element-hq/synapse:v1.114.0" ||
		back.Images[1].Ref() != "docker.io/library/x@"+d2 || back.Missing[0].Ref() != "docker.io/library/haproxy:2.8" ||
		back.Images[0].ValuesPath != "synapse.image" || back.Missing[0].Reason != "manifest unknown" {
		t.Errorf("read back: %+v", back)
	}
}
