package create

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// upstream is a registry of one repository, "app", serving what its maps hold: manifests by
// digest and tag, blobs, the referrers API's answers by subject, and a tags list.
type upstream struct {
	manifests map[string][]byte // digest or tag -> raw (media type from the document)
	blobs     map[string][]byte
	referrers map[string][]manifest.Descriptor
	tags      []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/v2/app/")
	switch {
	case r.URL.Path == "/v2/":
	case p == "tags/list":
		json.NewEncoder(w).Encode(map[string]any{"name": "app", "tags": u.tags})
	case strings.HasPrefix(p, "referrers/"):
		w.Header().Set("Content-Type", manifest.OCIIndex)
		w.Write(manifest.ReferrersIndex(u.referrers[strings.TrimPrefix(p, "referrers/")]))
	case strings.HasPrefix(p, "manifests/"):
		raw, ok := u.manifests[strings.TrimPrefix(p, "manifests/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var doc struct{ MediaType string }
		json.Unmarshal(raw, &doc)
		w.Header().Set("Content-Type", doc.MediaType)
		w.Header().Set("Docker-Content-Digest", verify.Digest(raw))
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		if r.Method != http.MethodHead {
			w.Write(raw)
		}
	case strings.HasPrefix(p, "blobs/"):
		b, ok := u.blobs[strings.TrimPrefix(p, "blobs/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method != http.MethodHead {
			w.Write(b)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (u *upstream) put(raw []byte, tags ...string) manifest.Descriptor {
	d := verify.Digest(raw)
	u.manifests[d] = raw
	for _, t := range tags {
		u.manifests[t] = raw
	}
	var doc struct{ MediaType string }
	json.Unmarshal(raw, &doc)
	return manifest.Descriptor{MediaType: doc.MediaType, Digest: d, Size: int64(len(raw))}
}

// artifact is an OCI image manifest of the given artifact type, about subject (none: "").
func (u *upstream) artifact(artifactType, subject string, note string) []byte {
	cfg := []byte(`{}`)
	u.blobs[verify.Digest(cfg)] = cfg
	doc := map[string]any{"schemaVersion": 2, "mediaType": manifest.OCIManifest, "artifactType": artifactType,
		"config":      map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": verify.Digest(cfg), "size": len(cfg)},
		"layers":      []any{},
		"annotations": map[string]string{"note": note}}
	if subject != "" {
		doc["subject"] = map[string]any{"mediaType": manifest.OCIManifest, "digest": subject, "size": 2}
	}
	raw, _ := json.Marshal(doc)
	return raw
}

// TestFindReferrers: an image's referrers are found through the referrers API and cosign's
// tags, and what refers to them in turn; a type filter keeps only those of the types asked
// for; a referrer that is not an image manifest (the withdrawn artifact manifest) is skipped,
// saying why; each is recorded with its subject, artifact type and tag.
func TestFindReferrers(t *testing.T) {
	u := &upstream{manifests: map[string][]byte{}, blobs: map[string][]byte{}, referrers: map[string][]manifest.Descriptor{}}
	subject := u.put(u.artifact("", "", "the image"), "1")
	sbom := u.put(u.artifact("application/spdx+json", subject.Digest, "sbom"))
	sbomSig := u.put(u.artifact("application/vnd.dev.cosign.artifact.sig.v1+json", sbom.Digest, "signature of the sbom"))
	oldStyle := u.put([]byte(`{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"application/spdx+json","subject":{"mediaType":"` + manifest.OCIManifest + `","digest":"` + subject.Digest + `","size":2}}`))
	cosignTag := manifest.CosignTag(subject.Digest, "sig")
	cosignSig := u.put(u.artifact("", "", "cosign's signature"), cosignTag)
	u.referrers[subject.Digest] = []manifest.Descriptor{sbom, oldStyle}
	u.referrers[sbom.Digest] = []manifest.Descriptor{sbomSig}
	u.tags = []string{"1", cosignTag, "sha256-nothex.sig", "latest"}
	srv := httptest.NewServer(u)
	defer srv.Close()

	src := digests.Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: strings.TrimPrefix(srv.URL, "http://"), Path: "app", Tag: "1"}}
	newImage := func() *image {
		return &image{group: digests.Group{Source: src, Members: []digests.Image{src}}, root: &manifest.Node{Desc: subject}}
	}

	im := newImage()
	ok, failed, skipped := findReferrers(t.Context(), newClient(t), mirror.DefaultJobs, []*image{im}, nil, newHeldBytes())
	if len(ok) != 1 || len(failed) != 0 {
		t.Fatalf("ok %d, failed %v", len(ok), failed)
	}
	var got []string
	for _, r := range im.referrers {
		got = append(got, fmt.Sprintf("%s of %s tag %q type %s", r.Digest, r.Subject, r.Tag, r.ArtifactType))
	}
	want := []string{
		fmt.Sprintf("%s of %s tag %q type %s", sbom.Digest, subject.Digest, "", "application/spdx+json"),
		fmt.Sprintf("%s of %s tag %q type %s", cosignSig.Digest, subject.Digest, cosignTag, ""), // no artifactType, an empty config: none
		fmt.Sprintf("%s of %s tag %q type %s", sbomSig.Digest, sbom.Digest, "", "application/vnd.dev.cosign.artifact.sig.v1+json"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("referrers found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(skipped) != 1 || skipped[0].Image != "c.x" || !strings.HasPrefix(skipped[0].Referrer, oldStyle.Digest) ||
		!strings.Contains(skipped[0].Reason, "application/vnd.oci.artifact.manifest.v1+json, not an image manifest or index") {
		t.Errorf("skipped: %+v", skipped)
	}

	im = newImage()
	if ok, _, _ := findReferrers(t.Context(), newClient(t), mirror.DefaultJobs, []*image{im}, []string{"application/spdx+json"}, newHeldBytes()); len(ok) != 1 ||
		len(im.referrers) != 1 || im.referrers[0].Digest != sbom.Digest {
		t.Errorf("with the type filter spdx: %d referrers", len(im.referrers))
	}

	// A referrer listed but not served fails the image, naming it and its keys.
	u.referrers[sbom.Digest] = append(u.referrers[sbom.Digest], manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest([]byte("gone")), Size: 4})
	ok, failed, _ = findReferrers(t.Context(), newClient(t), mirror.DefaultJobs, []*image{newImage()}, nil, newHeldBytes())
	if err := failed["c.x"]; len(ok) != 0 || err == nil || !strings.Contains(err.Error(), "c.x ("+src.Ref()+"): referrers") || !strings.Contains(err.Error(), verify.Digest([]byte("gone"))) {
		t.Errorf("a referrer not served: ok %d, %v", len(ok), err)
	}
}

// TestReferrerEntries: every referrer is listed once in the manifest and once per tag in the
// layout's index, naming its subject and, when found under a cosign tag, that tag on the
// image's repository.
func TestReferrerEntries(t *testing.T) {
	src := digests.Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: "r.test", Path: "app", Tag: "1"}}
	sig := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sig"}`)
	mk := func(tag string) *referrer {
		return &referrer{Referrer: archive.Referrer{Subject: "sha256:" + strings.Repeat("a", 64), Digest: verify.Digest(sig),
			MediaType: manifest.OCIManifest, Size: int64(len(sig)), Tag: tag}, node: &manifest.Node{Raw: sig}}
	}
	byDigest, byTag := mk(""), mk("sha256-"+strings.Repeat("a", 64)+".sig")
	a := &image{group: digests.Group{Source: src}, referrers: []*referrer{byDigest, byTag}}
	b := &image{group: digests.Group{Source: src}, referrers: []*referrer{mk(""), mk(byTag.Tag)}} // the same again, from another image

	if got := bundleReferrers([]*image{a, b}); len(got) != 2 || got[0] != byDigest.Referrer || got[1] != byTag.Referrer {
		t.Errorf("bundleReferrers = %+v", got)
	}
	es := referrerEntries([]*image{a, b})
	if len(es) != 2 {
		t.Fatalf("%d index entries, want 2", len(es))
	}
	for i, e := range es {
		if e.Digest != byDigest.Digest || e.ArtifactType != "application/x-sig" || e.Annotations["io.element.ess.subject"] != byDigest.Subject {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if _, ok := es[0].Annotations["org.opencontainers.image.ref.name"]; ok {
		t.Error("a referrer found by digest has a ref.name")
	}
	if got := es[1].Annotations["org.opencontainers.image.ref.name"]; got != "r.test/app:"+byTag.Tag {
		t.Errorf("the cosign referrer's ref.name = %q", got)
	}
	if bundleReferrers(nil) != nil || referrerEntries(nil) != nil {
		t.Error("no images, yet referrers")
	}
}
