package manifest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestFilterPlatforms(t *testing.T) {
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	child := func(digest, os, arch string, ann map[string]string) *Node {
		return &Node{Desc: Descriptor{MediaType: OCIManifest, Digest: digest, Size: 10,
			Platform: &Platform{OS: os, Architecture: arch}, Annotations: ann}}
	}
	amd := child(d('a'), "linux", "amd64", nil)
	arm := child(d('b'), "linux", "arm64", nil)
	att := child(d('c'), "unknown", "unknown", map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d('a')})
	children := []*Node{amd, arm, att}
	var descs []Descriptor
	for _, c := range children {
		descs = append(descs, c.Desc)
	}
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": descs, "annotations": map[string]string{"x": "y"}})
	idx := &Node{Desc: Descriptor{MediaType: OCIIndex, Digest: verify.Digest(raw), Size: int64(len(raw))}, Raw: raw, Children: children}

	one, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "amd64"}})
	if err != nil || one != amd {
		t.Fatalf("one platform: got %+v, %v; want the amd64 manifest itself", one, err)
	}
	all, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "amd64"}})
	if err != nil || all != idx {
		t.Fatalf("every platform: got a new index (%v), want the upstream one", err)
	}
	if _, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "s390x"}}); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("missing platform: %v", err)
	}
	// Two of three platforms: a new index, attestation of the kept amd64 kept, other fields kept.
	ppc := child(d('e'), "linux", "ppc64le", nil)
	idx.Children = append(idx.Children, ppc)
	descs = append(descs, ppc.Desc)
	idx.Raw, _ = json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": descs, "annotations": map[string]string{"x": "y"}})
	two, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "ppc64le"}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Manifests   []Descriptor      `json:"manifests"`
		Annotations map[string]string `json:"annotations"`
	}
	json.Unmarshal(two.Raw, &got)
	if len(got.Manifests) != 3 || got.Manifests[0].Digest != d('a') || got.Manifests[1].Digest != d('c') || got.Manifests[2].Digest != d('e') ||
		got.Annotations["x"] != "y" || two.Desc.Digest != verify.Digest(two.Raw) || len(two.Children) != 3 {
		t.Fatalf("filtered index: %s (digest %s)", two.Raw, two.Desc.Digest)
	}
}
