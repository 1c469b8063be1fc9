package manifest

import (
	"encoding/json"
	"errors"
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

func TestParsePlatform(t *testing.T) {
	cases := []struct {
		in   string
		want Platform
		ok   bool
	}{
		{"linux/amd64", Platform{OS: "linux", Architecture: "amd64"}, true},
		{"linux/arm/v7", Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{"linux/arm/", Platform{OS: "linux", Architecture: "arm"}, true},
		{"linux", Platform{}, false},
		{"", Platform{}, false},
		{"/amd64", Platform{}, false},
		{"linux/", Platform{}, false},
		{"linux/arm/v7/x", Platform{}, false},
	}
	for _, c := range cases {
		got, err := ParsePlatform(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParsePlatform(%q) = %+v, %v", c.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "os/arch") {
			t.Errorf("ParsePlatform(%q): %v does not say the form", c.in, err)
		}
		if c.ok && c.in != "linux/arm/" && got.String() != c.in {
			t.Errorf("%q reads back as %q", c.in, got.String())
		}
	}
	var none *Platform
	if none.String() != "" {
		t.Error("a nil platform names something")
	}
}

// TestPlatformMatches: a platform without a variant matches every variant; with one, only it.
func TestPlatformMatches(t *testing.T) {
	arm := Platform{OS: "linux", Architecture: "arm"}
	v7 := Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	v6 := &Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	cases := []struct {
		p    Platform
		q    *Platform
		want bool
	}{
		{arm, &v7, true}, {arm, v6, true}, {arm, &arm, true},
		{v7, &v7, true}, {v7, v6, false}, {v7, &arm, false},
		{arm, &Platform{OS: "windows", Architecture: "arm"}, false},
		{arm, &Platform{OS: "linux", Architecture: "arm64"}, false},
		{arm, nil, false},
	}
	for _, c := range cases {
		if got := c.p.Matches(c.q); got != c.want {
			t.Errorf("%s matches %s: %v, want %v", c.p.String(), c.q.String(), got, c.want)
		}
	}
}

// TestFilterPlatformsManifest: a single manifest is kept as it is, whatever is asked (the
// platform of a plain manifest is not in its descriptor); variants are matched as asked.
func TestFilterPlatformsManifest(t *testing.T) {
	m := &Node{Desc: Descriptor{MediaType: DockerManifest, Digest: digestOf('a'), Size: 3}}
	if got, err := FilterPlatforms(m, []Platform{{OS: "linux", Architecture: "s390x"}}); err != nil || got != m {
		t.Fatalf("a manifest: %v, %v", got, err)
	}
	v6 := &Node{Desc: Descriptor{MediaType: DockerManifest, Digest: digestOf('b'), Platform: &Platform{OS: "linux", Architecture: "arm", Variant: "v6"}}}
	v7 := &Node{Desc: Descriptor{MediaType: DockerManifest, Digest: digestOf('c'), Platform: &Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}}
	idx := &Node{Desc: Descriptor{MediaType: DockerList, Digest: digestOf('d')}, Children: []*Node{v6, v7}}
	if got, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "arm", Variant: "v7"}}); err != nil || got != v7 {
		t.Fatalf("linux/arm/v7: %v, %v", got, err)
	}
	_, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "arm", Variant: "v8"}})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "linux/arm/v6, linux/arm/v7") || !strings.Contains(err.Error(), digestOf('d')) {
		t.Fatalf("linux/arm/v8: %v, want ErrPlatform naming the index and what it has", err)
	}
	// linux/arm names both variants: both are kept, in a new index.
	idx.Raw, _ = json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": DockerList, "manifests": []Descriptor{v6.Desc, v7.Desc}})
	if got, err := FilterPlatforms(idx, []Platform{{OS: "linux", Architecture: "arm"}}); err != nil || got != idx {
		t.Fatalf("linux/arm, both variants: %v, %v", got, err)
	}
}
