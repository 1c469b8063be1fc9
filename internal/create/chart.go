package create

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Chart is a Helm chart to carry, as the OCI artifact Helm makes of it, and the image blocks
// of its values.
type Chart struct {
	Ref    string // as given: oci://HOST/PATH/NAME:VERSION, or a .tgz or a directory
	Chart  *chart.Chart
	Source digests.Image  // where it is pushed from and to: Path (NAME for a file), Tag (the version)
	Values []archive.File // the operator's values files, in order
	Blocks []chart.Block  // with the values applied
	root   *manifest.Node // the artifact's manifest, config and layers
	layers map[string][]byte
}

// LoadChart reads a chart and the image blocks of its values with the values files applied
// in order. ref is oci://HOST/PATH/NAME:VERSION (the artifact is fetched as it is, its config
// and layers verified; its content layer must be the chart NAME at VERSION), or a .tgz or
// chart directory, for which the artifact `helm push` would make is built (the same bytes
// every time, so the same digest). c may be nil for a file.
func LoadChart(ctx context.Context, c *oci.Client, ref string, values []chart.ValuesFile) (*Chart, error) {
	ch := &Chart{Ref: ref, layers: map[string][]byte{}}
	var err error
	if rest, ok := strings.CutPrefix(ref, "oci://"); ok {
		err = ch.pull(ctx, c, rest)
	} else {
		err = ch.build(ref)
	}
	if err != nil {
		return nil, err
	}
	if ch.Blocks, err = chart.Images(ch.Chart, values...); err != nil {
		return nil, err
	}
	for _, v := range values {
		ch.Values = append(ch.Values, archive.File{Name: v.Name, Digest: verify.Digest(v.Data), Content: string(v.Data)})
	}
	return ch, nil
}

// pull fetches the artifact at HOST/PATH/NAME:VERSION (mirror.PullChart).
func (ch *Chart) pull(ctx context.Context, c *oci.Client, ref string) error {
	p, err := mirror.PullChart(ctx, c, ch.Ref, ref)
	if err != nil {
		return err
	}
	ch.Chart, ch.Source, ch.root, ch.layers = p.Chart, p.Source, p.Root, p.Layers
	return nil
}

// build loads a chart file or directory and makes its artifact as `helm push` does: the config
// is Chart.yaml as JSON, the one layer the .tgz, annotated with the chart's name and version.
func (ch *Chart) build(path string) error {
	c, err := chart.Load(path)
	if err != nil {
		return err
	}
	ch.Chart = c
	config := manifest.Descriptor{MediaType: chart.ConfigMediaType, Digest: verify.Digest(c.Meta), Size: int64(len(c.Meta))}
	layer := manifest.Descriptor{MediaType: chart.ContentMediaType, Digest: verify.Digest(c.Archive), Size: int64(len(c.Archive)),
		Annotations: map[string]string{"org.opencontainers.image.title": c.Name + "-" + c.Version + ".tgz"}}
	raw, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": manifest.OCIManifest, "config": config, "layers": []manifest.Descriptor{layer},
		"annotations": map[string]string{"org.opencontainers.image.title": c.Name, "org.opencontainers.image.version": c.Version}})
	if err != nil {
		return err
	}
	d := manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest(raw), Size: int64(len(raw))}
	ch.root = &manifest.Node{Desc: d, Raw: raw, Blobs: []manifest.Descriptor{config, layer}, Config: c.Meta}
	ch.layers[layer.Digest] = c.Archive
	ch.Source = digests.Image{Entry: imageref.Entry{Component: c.Name, Container: mirror.ChartContainer, Path: c.Name,
		Tag: mirror.VersionTag(c.Version)}, Digest: d.Digest}
	return nil
}

// Images are the chart's image blocks as image list entries: component the chart's name,
// container the block's values path, so that the key is "NAME.<values path>".
func (ch *Chart) Images() []digests.Image {
	out := make([]digests.Image, len(ch.Blocks))
	for i, b := range ch.Blocks {
		out[i] = digests.Image{Entry: imageref.Entry{Component: ch.Chart.Name, Container: b.Path, Server: b.Registry,
			Path: b.Repository, Tag: b.Tag}, Digest: b.Digest}
	}
	return out
}

// image is the chart's artifact as one of the bundle's images.
func (ch *Chart) image() *image {
	return &image{group: digests.Group{Source: ch.Source, Members: []digests.Image{ch.Source}}, ref: ch.Ref, root: ch.root}
}

// record is what the bundle manifest says of the chart.
func (ch *Chart) record() *archive.Chart {
	return &archive.Chart{Ref: ch.Ref, Name: ch.Chart.Name, Version: ch.Chart.Version, Digest: ch.root.Desc.Digest, Values: ch.Values}
}
