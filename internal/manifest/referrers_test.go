package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestCosignSubject(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for tag, want := range map[string]string{
		CosignTag(d, "sig"): d, CosignTag(d, "att"): d, CosignTag(d, "sbom"): d,
		FallbackTag(d): "", FallbackTag(d) + ".txt": "", "sha256-abc.sig": "", "1.2.sig": "",
	} {
		if got := CosignSubject(tag); got != want {
			t.Errorf("CosignSubject(%q) = %q, want %q", tag, got, want)
		}
	}
}

// TestMergeReferrers: entries already listed stay as they are (fields unknown here included),
// new ones follow, one already there is not added again.
func TestMergeReferrers(t *testing.T) {
	old := []byte(`{"schemaVersion":2,"mediaType":"` + OCIIndex + `","manifests":[{"mediaType":"` + OCIManifest +
		`","digest":"sha256:` + strings.Repeat("1", 64) + `","size":3,"x-kept":true}]}`)
	a := Descriptor{MediaType: OCIManifest, Digest: "sha256:" + strings.Repeat("2", 64), Size: 5, ArtifactType: "application/spdx+json"}
	merged, changed, err := MergeReferrers(old, []Descriptor{a})
	if err != nil || !changed {
		t.Fatalf("merge: %v, changed %v", err, changed)
	}
	var doc struct{ Manifests []map[string]any }
	json.Unmarshal(merged, &doc)
	if len(doc.Manifests) != 2 || doc.Manifests[0]["x-kept"] != true || doc.Manifests[1]["artifactType"] != "application/spdx+json" {
		t.Fatalf("merged %s", merged)
	}
	if again, changed, _ := MergeReferrers(merged, []Descriptor{a}); changed || string(again) != string(merged) {
		t.Errorf("merging a listed referrer changed the index: %s", again)
	}
	if fresh, changed, _ := MergeReferrers(nil, []Descriptor{a}); !changed || !strings.Contains(string(fresh), a.Digest) {
		t.Errorf("new index: %s", fresh)
	}
	if _, _, err := MergeReferrers([]byte(`{"mediaType":"`+OCIManifest+`"}`), []Descriptor{a}); err == nil {
		t.Errorf("a manifest under the fallback tag was taken for an index")
	}
}

// TestArtifactType: what a referrer is, as filters and people see it: artifactType first, then
// a config's own media type, then (for cosign's generic or empty configs) the first layer's.
func TestArtifactType(t *testing.T) {
	cfg := func(mt string) *Descriptor { return &Descriptor{MediaType: mt, Digest: digestOf('c'), Size: 2} }
	layer := []Descriptor{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: digestOf('2'), Size: 3},
		{MediaType: "application/vnd.other", Digest: digestOf('m'), Size: 3}}
	cases := []struct {
		name string
		doc  Doc
		want string
	}{
		{"artifactType", Doc{ArtifactType: "application/spdx+json", Config: cfg("application/vnd.x+json"), Layers: layer}, "application/spdx+json"},
		{"own config type", Doc{Config: cfg("application/vnd.cncf.helm.config.v1+json"), Layers: layer}, "application/vnd.cncf.helm.config.v1+json"},
		{"generic config", Doc{Config: cfg(OCIConfig), Layers: layer}, "application/vnd.dev.cosign.simplesigning.v1+json"},
		{"empty config", Doc{Config: cfg(OCIEmpty), Layers: layer}, "application/vnd.dev.cosign.simplesigning.v1+json"},
		{"generic config, no layers", Doc{Config: cfg(OCIConfig)}, ""},
		{"nothing", Doc{}, ""},
	}
	for _, c := range cases {
		c.doc.SchemaVersion, c.doc.MediaType = 2, OCIManifest
		raw, _ := json.Marshal(c.doc)
		if got := ArtifactType(raw); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := ArtifactType([]byte("not json")); got != "" {
		t.Errorf("garbage: %q", got)
	}
}

// TestMatches: a referrer matches a type by its artifact type, its artifactType field, its
// config's media type or any layer's; no types match everything; garbage matches nothing
// asked for.
func TestMatches(t *testing.T) {
	raw, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIManifest, Config: &Descriptor{MediaType: OCIConfig, Digest: digestOf('c'), Size: 2},
		Layers: []Descriptor{{MediaType: "application/a", Digest: digestOf('a'), Size: 1}, {MediaType: "application/b", Digest: digestOf('b'), Size: 1}}})
	cases := []struct {
		types []string
		want  bool
	}{
		{nil, true},
		{[]string{"application/a"}, true},
		{[]string{"application/b"}, true},
		{[]string{OCIConfig}, true},
		{[]string{"application/z", "application/b"}, true},
		{[]string{"application/z"}, false},
		{[]string{""}, false},
	}
	for _, c := range cases {
		if got := Matches(raw, c.types); got != c.want {
			t.Errorf("Matches(%q) = %v, want %v", c.types, got, c.want)
		}
	}
	if Matches([]byte("{"), []string{"application/a"}) || !Matches([]byte("{"), nil) {
		t.Error("garbage: matched a type, or did not match no types")
	}
}

// TestSubjectOf: the subject a referrer names; "" for none and for garbage.
func TestSubjectOf(t *testing.T) {
	d := digestOf('s')
	raw, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIManifest, Subject: &Descriptor{MediaType: OCIManifest, Digest: d, Size: 9}})
	if got := SubjectOf(raw); got != d {
		t.Errorf("subject %q, want %s", got, d)
	}
	plain, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIManifest})
	for _, r := range [][]byte{plain, []byte("["), nil} {
		if got := SubjectOf(r); got != "" {
			t.Errorf("SubjectOf(%q) = %q", r, got)
		}
	}
}

// TestReferrerDescriptor: a referrer's entry in a referrers list: its digest and size from its
// bytes, artifactType (else its config's media type) and annotations from its content.
func TestReferrerDescriptor(t *testing.T) {
	raw, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIManifest, Config: &Descriptor{MediaType: "application/vnd.x.config", Digest: digestOf('c'), Size: 2},
		Annotations: map[string]string{"org.opencontainers.image.created": "2025-01-01T00:00:00Z"}})
	d := ReferrerDescriptor(raw, OCIManifest)
	if d.MediaType != OCIManifest || d.Size != int64(len(raw)) || d.Digest != verify.Digest(raw) || d.ArtifactType != "application/vnd.x.config" ||
		d.Annotations["org.opencontainers.image.created"] == "" {
		t.Errorf("%+v", d)
	}
	withType, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIManifest, ArtifactType: "application/spdx+json", Config: &Descriptor{MediaType: OCIEmpty, Digest: digestOf('e'), Size: 2}})
	if d := ReferrerDescriptor(withType, OCIManifest); d.ArtifactType != "application/spdx+json" {
		t.Errorf("artifactType %q", d.ArtifactType)
	}
	if d := ReferrerDescriptor([]byte("garbage"), OCIManifest); d.ArtifactType != "" || d.Size != 7 || d.Digest != verify.Digest([]byte("garbage")) {
		t.Errorf("garbage: %+v", d)
	}
}

// TestReferrersIndex: the referrers API's answer is an OCI index, with an empty list (not
// null) when nothing refers to the subject.
func TestReferrersIndex(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(ReferrersIndex(nil), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["mediaType"] != OCIIndex || doc["schemaVersion"] != float64(2) {
		t.Errorf("%v", doc)
	}
	if list, ok := doc["manifests"].([]any); !ok || len(list) != 0 {
		t.Errorf("manifests %v, want []", doc["manifests"])
	}
	a := Descriptor{MediaType: OCIManifest, Digest: digestOf('a'), Size: 1, ArtifactType: "x"}
	var back struct{ Manifests []Descriptor }
	json.Unmarshal(ReferrersIndex([]Descriptor{a}), &back)
	if len(back.Manifests) != 1 || back.Manifests[0].Digest != a.Digest || back.Manifests[0].ArtifactType != "x" {
		t.Errorf("%+v", back)
	}
}

// TestMergeReferrersEdges: a null manifests list, duplicates within what is added, nothing to
// add, and a broken index.
func TestMergeReferrersEdges(t *testing.T) {
	a := Descriptor{MediaType: OCIManifest, Digest: digestOf('a'), Size: 1}
	b := Descriptor{MediaType: OCIManifest, Digest: digestOf('b'), Size: 2}
	null := []byte(`{"schemaVersion":2,"mediaType":"` + OCIIndex + `","manifests":null,"annotations":{"k":"v"}}`)
	merged, changed, err := MergeReferrers(null, []Descriptor{a, b, a})
	if err != nil || !changed {
		t.Fatalf("%v, %v", err, changed)
	}
	var doc struct {
		Manifests   []Descriptor
		Annotations map[string]string
	}
	json.Unmarshal(merged, &doc)
	if len(doc.Manifests) != 2 || doc.Manifests[0].Digest != a.Digest || doc.Manifests[1].Digest != b.Digest || doc.Annotations["k"] != "v" {
		t.Errorf("merged %s", merged)
	}
	if out, changed, err := MergeReferrers(nil, nil); out != nil || changed || err != nil {
		t.Errorf("nothing to add to nothing: %s, %v, %v", out, changed, err)
	}
	for _, bad := range []string{"{", `{"mediaType":"` + OCIIndex + `","manifests":{}}`, `{"manifests":[]}`} {
		if _, _, err := MergeReferrers([]byte(bad), []Descriptor{a}); !errors.Is(err, ErrBad) {
			t.Errorf("MergeReferrers(%s): %v, want ErrBad", bad, err)
		}
	}
}

// TestMediaTypes: the four types carried, which are indexes, manifests, Docker's.
func TestMediaTypes(t *testing.T) {
	for _, c := range []struct {
		mt                        string
		index, manifest, isDocker bool
	}{
		{OCIIndex, true, false, false},
		{DockerList, true, false, true},
		{OCIManifest, false, true, false},
		{DockerManifest, false, true, true},
		{"application/vnd.docker.distribution.manifest.v1+json", false, false, true},
		{OCIConfig, false, false, false},
	} {
		if IsIndex(c.mt) != c.index || IsManifest(c.mt) != c.manifest || IsDocker(c.mt) != c.isDocker {
			t.Errorf("%s: index %v, manifest %v, docker %v", c.mt, IsIndex(c.mt), IsManifest(c.mt), IsDocker(c.mt))
		}
	}
	if len(MediaTypes) != 4 {
		t.Errorf("MediaTypes %v", MediaTypes)
	}
}
