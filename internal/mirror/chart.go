package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// ChartContainer is the container name of a chart's own entry among a bundle's images: the
// entry is "NAME.chart" (archive.KindChart), its blocks' "NAME.<values path>".
const ChartContainer = "chart"

// MaxChartBlob bounds what is read into memory of a chart's artifact (Helm caps a chart at
// 100 MiB decompressed).
const MaxChartBlob = 64 << 20

// ErrChartRef is wrapped when a chart reference is not oci://HOST/PATH/NAME:VERSION; the
// command names its flag (bundle create --chart).
var ErrChartRef = errors.New("want oci://HOST/PATH/NAME:VERSION")

// PulledChart is a Helm chart's OCI artifact as a registry serves it: create carries it, and
// push's render check reads it back from the destination.
type PulledChart struct {
	Chart  *chart.Chart
	Source digests.Image     // where it was pulled from: Server, Path, Tag (the version), Digest
	Root   *manifest.Node    // the artifact's manifest, config and layers
	Layers map[string][]byte // every layer, by digest (the config is Root.Config)
}

// PullChart fetches the artifact at ref, HOST/PATH/NAME:VERSION (given is what the operator
// wrote, for messages): its manifest, config and layers, each verified and bounded by
// MaxChartBlob. Its content layer must be the chart NAME at VERSION.
func PullChart(ctx context.Context, c *oci.Client, given, ref string) (*PulledChart, error) {
	i := strings.LastIndex(ref, ":")
	if i < strings.LastIndex(ref, "/") || strings.Contains(ref, "@") {
		return nil, fmt.Errorf("%q: %w", given, ErrChartRef)
	}
	repo, tag := ref[:i], ref[i+1:]
	server, path, _ := strings.Cut(repo, "/")
	if tag == "" || path == "" {
		return nil, fmt.Errorf("%q: %w", given, ErrChartRef)
	}
	m, err := c.GetManifest(ctx, repo+":"+tag)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", given, err)
	}
	fetch := func(ctx context.Context, d manifest.Descriptor) ([]byte, error) {
		return nil, fmt.Errorf("%w: %s is an index, not a chart", ErrBadManifest, given)
	}
	d := manifest.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
	p := &PulledChart{Layers: map[string][]byte{}}
	if p.Root, err = manifest.Parse(ctx, d, m.Raw, fetch); err != nil {
		return nil, fmt.Errorf("chart %s: %w", given, err)
	}
	content, err := p.readBlobs(ctx, c, given, repo)
	if err != nil {
		return nil, err
	}
	if p.Chart, err = chart.Read(content); err != nil {
		return nil, fmt.Errorf("chart %s: %w", given, err)
	}
	if want := path[strings.LastIndex(path, "/")+1:]; p.Chart.Name != want || VersionTag(p.Chart.Version) != tag {
		return nil, fmt.Errorf("%w: %s holds chart %s %s", ErrBadManifest, given, p.Chart.Name, p.Chart.Version)
	}
	p.Source = digests.Image{Entry: imageref.Entry{Component: p.Chart.Name, Container: ChartContainer, Server: server,
		Path: path, Tag: tag}, Digest: m.Digest}
	return p, nil
}

// readBlobs reads the artifact's config and layers, and returns its content layer.
func (p *PulledChart) readBlobs(ctx context.Context, c *oci.Client, given, repo string) ([]byte, error) {
	var content []byte
	for i, b := range p.Root.Blobs {
		if i == 0 {
			if err := manifest.CheckSize("config "+b.Digest, b.Size); err != nil {
				return nil, fmt.Errorf("chart %s: %w", given, err)
			}
		}
		if b.Size > MaxChartBlob {
			return nil, fmt.Errorf("chart %s: blob %s: %d bytes is too large for a chart", given, b.Digest, b.Size)
		}
		data, err := ReadBlob(ctx, c, repo, b)
		if err != nil {
			return nil, fmt.Errorf("chart %s: blob %s: %w", given, b.Digest, err)
		}
		switch {
		case i == 0 && b.MediaType != chart.ConfigMediaType:
			return nil, fmt.Errorf("%w: %s: config media type %q, not a Helm chart's %s", ErrBadManifest, given, b.MediaType, chart.ConfigMediaType)
		case i == 0:
			p.Root.Config = data
		default:
			p.Layers[b.Digest] = data
			if b.MediaType == chart.ContentMediaType {
				content = data
			}
		}
	}
	if content == nil {
		return nil, fmt.Errorf("%w: %s has no layer of media type %s", ErrBadManifest, given, chart.ContentMediaType)
	}
	return content, nil
}

// ReadBlob reads a small blob of repo into memory, verified, retried as RetryBlob retries.
func ReadBlob(ctx context.Context, c *oci.Client, repo string, d manifest.Descriptor) ([]byte, error) {
	var data []byte
	err := RetryBlob(ctx, c, func(ctx context.Context) error {
		rc, err := c.OpenBlob(ctx, repo, d.Digest, d.Size)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = io.ReadAll(verify.NewReader(rc, d.Digest, d.Size))
		return err
	})
	return data, err
}

// VersionTag is the OCI tag of a chart version: Helm writes '+' (not allowed in tags) as '_'.
func VersionTag(v string) string { return strings.ReplaceAll(v, "+", "_") }
