package create

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// describe lists the blobs of the images resolved and makes the bundle manifest: the images,
// the base and what it holds, the charts, the provenance verdicts, what is missing, the plain
// files. It sets the progress total.
func (r *creation) describe(ctx context.Context) error {
	o := &r.o
	var err error
	if r.blobs, r.external, err = collect(ctx, r.c, r.images, o.Have); err != nil {
		return err
	}
	for _, ch := range o.Charts { // the chart's layers were read already (or made here): carried from memory
		for _, b := range r.blobs {
			if data, ok := ch.layers[b.Digest]; ok && b.data == nil {
				b.data = data
			}
		}
	}
	if o.Created.IsZero() {
		o.Created = time.Now().UTC()
		if m, ok := archive.Unfinished(o.Output); ok {
			o.Created = m.Created
		}
	}
	m, layout, index := describeBundle(*o, r.images, r.blobs)
	m.Base, m.External = o.Base, r.external
	switch len(o.Charts) {
	case 0:
	case 1:
		m.Chart = o.Charts[0].record()
	default:
		for _, ch := range o.Charts {
			m.Charts = append(m.Charts, *ch.record())
		}
	}
	if o.Provenance != nil {
		m.Provenance = o.Provenance.record()
		m.Provenance.Images = provenanceImages(r.verdicts)
	}
	m.Missing = missing(r.sources, r.failed, blockPathsOf(o.Charts))
	if m.Files, err = describeFiles(ctx, o.Files); err != nil {
		return err
	}
	total := m.Totals.BlobBytes
	for _, f := range m.Files {
		total += f.Size
	}
	o.Progress.SetTotal(total)
	r.m, r.layout, r.index = m, layout, index
	return nil
}

// describeBundle makes the bundle manifest, the oci-layout file and index.json.
func describeBundle(o CreateOptions, images []*image, blobs []*blob) (*archive.Manifest, []byte, []byte) {
	configs := map[string][]byte{}
	for _, b := range blobs {
		if b.Kind == archive.KindConfig {
			configs[b.Digest] = b.data
		}
	}
	m := &archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType,
		Tool: o.Tool, Created: o.Created.UTC().Truncate(time.Second)}
	if o.List != nil {
		m.Source = archive.Source{Name: o.List.File, Digest: verify.Digest(o.ListContent), Content: string(o.ListContent),
			Include: o.Include, Exclude: o.Exclude}
	}
	blockPaths := blockPathsOf(o.Charts) // key -> values path, for the charts' blocks
	chartRoots := map[*manifest.Node]bool{}
	for _, ch := range o.Charts {
		chartRoots[ch.root] = true
	}
	idx := struct {
		SchemaVersion int                   `json:"schemaVersion"`
		MediaType     string                `json:"mediaType"`
		Manifests     []manifest.Descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []manifest.Descriptor{}}
	for _, im := range images {
		d := im.root.Desc
		plats := im.root.Platforms()
		if manifest.IsManifest(d.MediaType) {
			if p := configPlatform(configs[im.root.Blobs[0].Digest]); p != "" {
				plats = []string{p}
			}
		}
		for _, mem := range im.group.Members {
			m.Images = append(m.Images, archive.Image{Entry: mem.Entry, ListedDigest: mem.Digest,
				Digest: d.Digest, UpstreamDigest: im.upstream, MediaType: d.MediaType, Size: d.Size, Platforms: plats,
				ValuesPath: blockPaths[mem.Key()]})
		}
		if chartRoots[im.root] {
			m.Images[len(m.Images)-1].Kind = archive.KindChart
		}
		d.Annotations = map[string]string{
			"org.opencontainers.image.ref.name": im.group.Source.Ref(),
			"io.element.ess.containers":         memberKeys(im.group),
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	m.Referrers = bundleReferrers(images)
	idx.Manifests = append(idx.Manifests, referrerEntries(images)...)
	sort.SliceStable(m.Images, func(i, j int) bool { return m.Images[i].Key() < m.Images[j].Key() })
	for _, b := range blobs {
		m.Blobs = append(m.Blobs, b.Blob)
		m.Totals.BlobBytes += b.Size
	}
	m.Totals.Images, m.Totals.Blobs = len(m.Images), len(m.Blobs)
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index, _ := json.MarshalIndent(idx, "", "  ")
	m.Layout = archive.Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}
	return m, layout, index
}

func inMemory(name string, data []byte) archive.Entry {
	return archive.Entry{Name: name, Digest: verify.Digest(data), Size: int64(len(data)), Data: data}
}

// configPlatform reads os/architecture[/variant] from an image config.
func configPlatform(cfg []byte) string {
	var p manifest.Platform
	if json.Unmarshal(cfg, &p) != nil || p.OS == "" {
		return ""
	}
	return p.String()
}
