package mirror

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestFilterPlatforms(t *testing.T) {
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	child := func(digest, os, arch string, ann map[string]string) *node {
		return &node{desc: descriptor{MediaType: ociManifest, Digest: digest, Size: 10,
			Platform: &platform{OS: os, Architecture: arch}, Annotations: ann}}
	}
	amd := child(d('a'), "linux", "amd64", nil)
	arm := child(d('b'), "linux", "arm64", nil)
	att := child(d('c'), "unknown", "unknown", map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d('a')})
	children := []*node{amd, arm, att}
	var descs []descriptor
	for _, c := range children {
		descs = append(descs, c.desc)
	}
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ociIndex, "manifests": descs, "annotations": map[string]string{"x": "y"}})
	idx := &node{desc: descriptor{MediaType: ociIndex, Digest: verify.Digest(raw), Size: int64(len(raw))}, raw: raw, children: children}

	one, err := filterPlatforms(idx, []Platform{{OS: "linux", Arch: "amd64"}})
	if err != nil || one != amd {
		t.Fatalf("one platform: got %+v, %v; want the amd64 manifest itself", one, err)
	}
	all, err := filterPlatforms(idx, []Platform{{OS: "linux", Arch: "arm64"}, {OS: "linux", Arch: "amd64"}})
	if err != nil || all != idx {
		t.Fatalf("every platform: got a new index (%v), want the upstream one", err)
	}
	if _, err := filterPlatforms(idx, []Platform{{OS: "linux", Arch: "s390x"}}); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("missing platform: %v", err)
	}
	// Two of three platforms: a new index, attestation of the kept amd64 kept, other fields kept.
	ppc := child(d('e'), "linux", "ppc64le", nil)
	idx.children = append(idx.children, ppc)
	descs = append(descs, ppc.desc)
	idx.raw, _ = json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ociIndex, "manifests": descs, "annotations": map[string]string{"x": "y"}})
	two, err := filterPlatforms(idx, []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "ppc64le"}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Manifests   []descriptor      `json:"manifests"`
		Annotations map[string]string `json:"annotations"`
	}
	json.Unmarshal(two.raw, &got)
	if len(got.Manifests) != 3 || got.Manifests[0].Digest != d('a') || got.Manifests[1].Digest != d('c') || got.Manifests[2].Digest != d('e') ||
		got.Annotations["x"] != "y" || two.desc.Digest != verify.Digest(two.raw) || len(two.children) != 3 {
		t.Fatalf("filtered index: %s (digest %s)", two.raw, two.desc.Digest)
	}
}
