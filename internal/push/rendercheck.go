package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// RenderCheckOptions says how to check a chart bundle's rendering against the local registry.
type RenderCheckOptions struct {
	Destination Destination
	// Server is the registry as the rendered images name it: --configmap-server, or
	// Destination.Host when empty.
	Server string
	// FromBundle renders the chart carried in the bundle; else the chart is pulled from the
	// destination (where push put it) and must have the bundle's digest.
	FromBundle bool
	// Render runs helm; its Values are the operator's files followed by the local values file.
	Render chart.RenderOptions
	// Chart names the chart to render, of a bundle of several (archive.Manifest.ChartOf); ""
	// for the only one.
	Chart string
}

// ChartToCheck returns the record of the chart name names in m: the only one when name is "".
// A bundle without a chart wraps ErrNoChart; several charts and no name, ErrWhichChart.
func ChartToCheck(m *archive.Manifest, name string) (*archive.Chart, error) {
	all := m.AllCharts()
	switch {
	case len(all) == 0:
		return nil, ErrNoChart
	case name != "":
		if ch := m.ChartOf(name); ch != nil {
			return ch, nil
		}
		return nil, fmt.Errorf("the bundle carries no chart %s (%s)", name, chartNames(all))
	case len(all) > 1:
		return nil, fmt.Errorf("the bundle carries %d charts (%s): %w", len(all), chartNames(all), ErrWhichChart)
	}
	return all[0], nil
}

func chartNames(all []*archive.Chart) string {
	names := make([]string, len(all))
	for i, ch := range all {
		names[i] = ch.Name
	}
	return strings.Join(names, ", ")
}

// Unlocal is an image a rendering runs that does not come from the local registry by digest.
type Unlocal struct {
	Image  string
	Reason string
	Uses   []chart.Use
}

// CheckChart renders the bundle's chart with helm and checks every container image it runs
// (containers, init containers, of every kind of workload): each must be
// Server/PATH@sha256:..., and the destination must serve that manifest in PATH (read and
// verified). It returns every use, and the images that fail, sorted; the error wraps
// ErrNotLocal when any does.
func CheckChart(ctx context.Context, c *oci.Client, b *archive.Bundle, o RenderCheckOptions) ([]chart.Use, []Unlocal, error) {
	rec, err := ChartToCheck(b.Manifest(), o.Chart)
	if err != nil {
		return nil, nil, err
	}
	if o.Server == "" {
		o.Server = o.Destination.Host
	}
	tgz, err := chartArchive(ctx, c, b, rec, o)
	if err != nil {
		return nil, nil, err
	}
	out, err := chart.Render(ctx, tgz, o.Render)
	if err != nil {
		return nil, nil, err
	}
	uses, err := chart.Uses(out)
	if err != nil {
		return nil, nil, err
	}
	byImage := map[string][]chart.Use{}
	var repos []string
	for _, u := range uses {
		if _, ok := byImage[u.Image]; !ok {
			if repo, _, ok := o.local(u.Image); ok {
				repos = appendNew(repos, repo)
			}
		}
		byImage[u.Image] = append(byImage[u.Image], u)
	}
	var r *oci.Session
	if len(repos) > 0 {
		if r, err = c.ReadSession(ctx, o.Destination.Host); err != nil {
			return nil, nil, err
		}
	}
	var bad []Unlocal
	for img, us := range byImage {
		repo, digest, ok := o.local(img)
		reason := ""
		switch {
		case !strings.Contains(img, "@sha256:"):
			reason = "not pulled by digest"
		case !ok:
			reason = "not from the local registry " + o.Server
		default:
			if _, _, err := r.GetManifest(ctx, repo, digest); errors.Is(err, oci.ErrNotFound) {
				reason = "not in the local registry " + o.Destination.Host + " (" + repo + ")"
			} else if err != nil {
				return nil, nil, err
			}
		}
		if reason != "" {
			bad = append(bad, Unlocal{Image: img, Reason: reason, Uses: us})
		}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Image < bad[j].Image })
	if len(bad) > 0 {
		return uses, bad, fmt.Errorf("%w: %d of %d images", ErrNotLocal, len(bad), len(byImage))
	}
	return uses, nil, nil
}

// local splits SERVER/REPO@DIGEST (a tag before the digest allowed) into REPO and DIGEST when
// SERVER is the local registry's name.
func (o RenderCheckOptions) local(img string) (repo, digest string, ok bool) {
	name, digest, found := strings.Cut(img, "@")
	server, repo, _ := strings.Cut(name, "/")
	if i := strings.LastIndex(repo, ":"); i >= 0 {
		repo = repo[:i]
	}
	return repo, digest, found && server == o.Server && repo != ""
}

// chartArchive returns the chart .tgz: from the bundle, or pulled from the destination and
// checked against the bundle's digest.
func chartArchive(ctx context.Context, c *oci.Client, b *archive.Bundle, rec *archive.Chart, o RenderCheckOptions) ([]byte, error) {
	m := b.Manifest()
	if !o.FromBundle {
		var src archive.Image
		for _, im := range m.Images {
			if im.Kind == archive.KindChart && im.Component == rec.Name {
				src = im
			}
		}
		ref := o.Destination.Host + "/" + o.Destination.Repo(src) + ":" + src.Tag
		ch, err := mirror.PullChart(ctx, c, "oci://"+ref, ref)
		if err != nil {
			return nil, fmt.Errorf("%w (push the bundle first, or render the bundle's chart)", err)
		}
		if ch.Root.Desc.Digest != rec.Digest {
			return nil, fmt.Errorf("%w: chart oci://%s is %s in the registry, %s in the bundle", ErrReadBack, ref, ch.Root.Desc.Digest, rec.Digest)
		}
		return ch.Chart.Archive, nil
	}
	blob, _ := m.BlobByDigest(rec.Digest)
	if err := manifest.CheckSize("chart manifest "+rec.Digest, blob.Size); err != nil {
		return nil, fmt.Errorf("%w: %w", archive.ErrCorrupt, err)
	}
	raw, err := b.ReadFile(archive.BlobName(rec.Digest))
	if err != nil {
		return nil, err
	}
	var doc manifest.Doc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: chart manifest %s: %v", mirror.ErrBadManifest, rec.Digest, err)
	}
	for _, l := range doc.Layers {
		if l.MediaType == chart.ContentMediaType {
			if rec, _ := m.BlobByDigest(l.Digest); rec.Size > mirror.MaxChartBlob {
				return nil, fmt.Errorf("%w: chart %s: blob %s: %d bytes is too large for a chart", archive.ErrCorrupt, m.Chart.Digest, l.Digest, rec.Size)
			}
			return b.ReadFile(archive.BlobName(l.Digest))
		}
	}
	return nil, fmt.Errorf("%w: chart manifest %s has no %s layer", mirror.ErrBadManifest, rec.Digest, chart.ContentMediaType)
}
