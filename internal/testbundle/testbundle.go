// Package testbundle writes small bundles of arbitrary content for tests, through the
// archive writer (so that they open like any bundle): the images and blobs a test gives, with
// a manifest whose totals add up and a layout index listing the images. It checks nothing
// of the images' content, so tests can carry what bundle create never would (an index that
// lists one child many times over, a manifest-type blob of many MiB).
//
// It is test infrastructure: nothing but tests imports it.
package testbundle

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Blob is one blob to carry: its content and what it is.
type Blob struct {
	Data      []byte
	MediaType string
	Kind      string // archive.KindIndex, KindManifest, KindConfig or KindLayer
}

// Digest is the blob's digest.
func (b Blob) Digest() string { return verify.Digest(b.Data) }

// Descriptor is the blob's descriptor.
func (b Blob) Descriptor() manifest.Descriptor {
	return manifest.Descriptor{MediaType: b.MediaType, Digest: b.Digest(), Size: int64(len(b.Data))}
}

// Image is a top-level image: where it comes from, and its index or manifest (one of the blobs).
type Image struct {
	Component, Container string
	Server, Path, Tag    string
	Root                 Blob
}

// Write writes the bundle dir/NAME.tar.zst carrying blobs (each once, in order: indexes and
// manifests first, then configs and layers, as bundle create orders them) for images, and
// returns its path. The images' roots must be among the blobs.
func Write(dir, name string, images []Image, blobs []Blob) (string, error) {
	return WriteWith(dir, name, images, blobs, Extra{})
}

// Extra is what a bundle's manifest records beyond its images and blobs.
type Extra struct {
	// Referrers are the bundle's referrers, subjects first; their manifests must be among
	// the blobs.
	Referrers []archive.Referrer
	// Base and External make a delta bundle: what it was made against, and the blobs its
	// images use that it relies on the base for (not among the blobs).
	Base     *archive.Base
	External []archive.Blob
}

// WriteWith is Write, with the manifest's referrers and, for a delta, its base and external
// blobs.
func WriteWith(dir, name string, images []Image, blobs []Blob, x Extra) (string, error) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType,
		Tool: "testbundle", Created: created, Referrers: x.Referrers, Base: x.Base, External: x.External}
	idx := struct {
		SchemaVersion int                   `json:"schemaVersion"`
		MediaType     string                `json:"mediaType"`
		Manifests     []manifest.Descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{}}
	for _, im := range images {
		d := im.Root.Descriptor()
		m.Images = append(m.Images, archive.Image{Entry: imageref.Entry{Component: im.Component, Container: im.Container,
			Server: im.Server, Path: im.Path, Tag: im.Tag}, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size})
		d.Annotations = map[string]string{"org.opencontainers.image.ref.name": im.Server + "/" + im.Path + ":" + im.Tag}
		idx.Manifests = append(idx.Manifests, d)
	}
	var entries []archive.Entry
	for _, b := range blobs {
		m.Blobs = append(m.Blobs, archive.Blob{Digest: b.Digest(), Size: int64(len(b.Data)), MediaType: b.MediaType, Kind: b.Kind})
		m.Totals.BlobBytes += int64(len(b.Data))
		entries = append(entries, entry(archive.BlobName(b.Digest()), b.Data))
	}
	m.Totals.Images, m.Totals.Blobs = len(m.Images), len(m.Blobs)
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	m.Layout = archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}
	mj, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	entries = append([]archive.Entry{entry(archive.ManifestName, mj), entry(archive.LayoutName, layout), entry(archive.IndexName, index)}, entries...)
	path := filepath.Join(dir, name+".tar.zst")
	w, err := archive.Create(path, created, entries)
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Commit(context.Background()); err != nil {
		return "", err
	}
	return path, nil
}

func entry(name string, data []byte) archive.Entry {
	return archive.Entry{Name: name, Digest: verify.Digest(data), Size: int64(len(data)), Data: data}
}

// JSON is v as JSON, for a manifest or index blob (it panics on what cannot be marshalled).
func JSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// FanOut returns the blobs of an image whose index lists the index below it n times, levels
// deep, over one manifest of one layer: as a tree it has n^levels manifests, as a graph
// levels+1 (plus a config and a layer). The root is the first blob.
func FanOut(n, levels int) []Blob {
	config := Blob{Data: []byte(`{"architecture":"amd64","os":"linux"}`), MediaType: manifest.OCIConfig, Kind: archive.KindConfig}
	layer := Blob{Data: []byte("a layer"), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	cd, ld := config.Descriptor(), layer.Descriptor()
	m := Blob{Data: JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}}),
		MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	metas := []Blob{m}
	below := m
	for range levels {
		kids := make([]manifest.Descriptor, n)
		for i := range kids {
			kids[i] = below.Descriptor()
		}
		below = Blob{Data: JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: kids}),
			MediaType: manifest.OCIIndex, Kind: archive.KindIndex}
		metas = append([]Blob{below}, metas...)
	}
	return append(metas, config, layer)
}

// Heavy returns images, each a manifest of just under manifest.MaxBytes (the same config and
// layer, then whitespace: each distinct, all compressing to nothing), that pass
// manifest.MaxTotalBytes together, and their blobs.
func Heavy() ([]Image, []Blob) {
	fan := FanOut(1, 0)
	config, layer := fan[1], fan[2]
	cd, ld := config.Descriptor(), layer.Descriptor()
	raw := JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	var images []Image
	var blobs []Blob
	for i := 0; int64(len(blobs))*(manifest.MaxBytes-1024) <= manifest.MaxTotalBytes; i++ {
		data := append(append([]byte{}, raw...), make([]byte, manifest.MaxBytes-1024-len(raw))...)
		for j := len(raw); j < len(data); j++ {
			data[j] = ' '
		}
		data[len(data)-1-i] = '\n' // distinct
		m := Blob{Data: data, MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
		images = append(images, Image{Component: "heavy", Container: fmt.Sprintf("c%d", i), Server: "example.org", Path: fmt.Sprintf("heavy/%d", i), Tag: "1", Root: m})
		blobs = append(blobs, m)
	}
	return images, append(blobs, config, layer)
}
