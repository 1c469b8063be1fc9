package manifest

import (
	"encoding/json"
	"strings"
	"testing"
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
