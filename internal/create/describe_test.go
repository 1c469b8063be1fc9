package create

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// describeWorld is two images held in memory: a single manifest whose config says its
// platform, listed under two container keys, and an index of two platforms (one of them the
// attestation's "unknown"), with the blobs collect would list.
func describeWorld() ([]*image, []*blob) {
	cfg := []byte(`{"os":"linux","architecture":"arm64","variant":"v8"}`)
	cfgD := verify.Digest(cfg)
	one := &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest([]byte("m1")), Size: 2},
		Blobs: []manifest.Descriptor{{Digest: cfgD, Size: int64(len(cfg))}}}
	amd := &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest([]byte("m2")), Size: 2,
		Platform: &manifest.Platform{OS: "linux", Architecture: "amd64"}}}
	att := &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest([]byte("m3")), Size: 2,
		Platform: &manifest.Platform{OS: "unknown", Architecture: "unknown"}}}
	idx := &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIIndex, Digest: verify.Digest([]byte("ix")), Size: 2},
		Children: []*manifest.Node{amd, att}}
	web := digests.Image{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "r.test", Path: "lib/nginx", Tag: "1.0"}}
	alsoWeb := web
	alsoWeb.Component, alsoWeb.Container = "admin", "proxy" // sorts first
	db := digests.Image{Entry: imageref.Entry{Component: "db", Container: "pg", Server: "r.test", Path: "lib/pg"}, Digest: idx.Desc.Digest}
	images := []*image{
		{group: digests.Group{Source: web, Members: []digests.Image{web, alsoWeb}}, root: one},
		{group: digests.Group{Source: db, Members: []digests.Image{db}}, root: idx, upstream: verify.Digest([]byte("upstream"))},
	}
	blobs := []*blob{
		{Blob: archive.Blob{Digest: cfgD, Size: int64(len(cfg)), Kind: archive.KindConfig}, data: cfg},
		{Blob: archive.Blob{Digest: verify.Digest([]byte("layer")), Size: 1000, Kind: archive.KindLayer}},
	}
	return images, blobs
}

// TestDescribeBundle: the manifest lists every container key (sorted) with its image's digest,
// size and platforms (a single manifest's from its config, an index's from its children but
// "unknown"); the index lists each image once, named by its source and the keys it serves;
// the totals add up; the layout records the digests of the files made beside it.
func TestDescribeBundle(t *testing.T) {
	images, blobs := describeWorld()
	created := time.Date(2026, 1, 2, 3, 4, 5, 678, time.FixedZone("x", 3600))
	m, layout, index := describeBundle(CreateOptions{Tool: "bundle test", Created: created}, images, blobs)

	if !m.Created.Equal(created.Truncate(time.Second)) || m.Created.Location() != time.UTC || m.Tool != "bundle test" {
		t.Errorf("created %v, tool %q", m.Created, m.Tool)
	}
	var keys []string
	for _, im := range m.Images {
		keys = append(keys, im.Key())
	}
	if want := []string{"admin.proxy", "db.pg", "web.nginx"}; !slices.Equal(keys, want) {
		t.Fatalf("images %v, want %v (sorted by key)", keys, want)
	}
	byKey := map[string]archive.Image{}
	for _, im := range m.Images {
		byKey[im.Key()] = im
	}
	for _, k := range []string{"admin.proxy", "web.nginx"} {
		im := byKey[k]
		if im.Digest != images[0].root.Desc.Digest || !slices.Equal(im.Platforms, []string{"linux/arm64/v8"}) || im.Tag != "1.0" {
			t.Errorf("%s: digest %s, platforms %v, tag %q", k, im.Digest, im.Platforms, im.Tag)
		}
	}
	if pg := byKey["db.pg"]; pg.Digest != images[1].root.Desc.Digest || pg.UpstreamDigest != images[1].upstream ||
		pg.MediaType != manifest.OCIIndex || !slices.Equal(pg.Platforms, []string{"linux/amd64"}) || pg.ListedDigest != images[1].root.Desc.Digest {
		t.Errorf("db.pg: %+v", pg)
	}
	if m.Totals.Images != 3 || m.Totals.Blobs != 2 || m.Totals.BlobBytes != blobs[0].Size+1000 || len(m.Blobs) != 2 {
		t.Errorf("totals %+v, %d blobs", m.Totals, len(m.Blobs))
	}
	if m.Layout.OCILayout != verify.Digest(layout) || m.Layout.Index != verify.Digest(index) {
		t.Errorf("the layout's digests are not those of the files: %+v", m.Layout)
	}
	var idx struct {
		SchemaVersion int
		MediaType     string
		Manifests     []manifest.Descriptor
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != manifest.OCIIndex || len(idx.Manifests) != 2 {
		t.Fatalf("index.json: %s", index)
	}
	for i, want := range []struct{ ref, keys string }{
		{"r.test/lib/nginx:1.0", "web.nginx, admin.proxy"},
		{"r.test/lib/pg@" + images[1].root.Desc.Digest, "db.pg"},
	} {
		a := idx.Manifests[i].Annotations
		if idx.Manifests[i].Digest != images[i].root.Desc.Digest || a["org.opencontainers.image.ref.name"] != want.ref || a["io.element.ess.containers"] != want.keys {
			t.Errorf("index entry %d: %s %v, want %s %s", i, idx.Manifests[i].Digest, a, want.ref, want.keys)
		}
	}
	if images[0].root.Desc.Annotations != nil {
		t.Error("describeBundle wrote its annotations into the image's own descriptor")
	}
}

// TestDescribeBundleSource: the image list is recorded with its exact content and digest and
// the selection; an empty bundle has an empty list of manifests, not null.
func TestDescribeBundleSource(t *testing.T) {
	content := []byte("web:\n  nginx: r.test/lib/nginx:1.0\n")
	o := CreateOptions{List: &digests.List{File: "images.yaml"}, ListContent: content, Include: []string{"web.*"}, Exclude: []string{"db.*"}}
	m, _, index := describeBundle(o, nil, nil)
	s := m.Source
	if s.Name != "images.yaml" || s.Content != string(content) || s.Digest != verify.Digest(content) ||
		!slices.Equal(s.Include, []string{"web.*"}) || !slices.Equal(s.Exclude, []string{"db.*"}) {
		t.Errorf("source %+v", s)
	}
	var idx map[string]json.RawMessage
	if err := json.Unmarshal(index, &idx); err != nil || string(idx["manifests"]) != "[]" {
		t.Errorf("the empty index's manifests: %s (%v)", idx["manifests"], err)
	}
	if m.Totals.Images != 0 || m.Totals.Blobs != 0 {
		t.Errorf("totals of nothing: %+v", m.Totals)
	}
	if _, _, index2 := describeBundle(o, nil, nil); string(index2) != string(index) {
		t.Error("the same bundle described twice differs")
	}
}
