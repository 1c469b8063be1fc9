package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/urfave/cli/v2"
)

// helmFlags are push's flags for the matrix-stack Helm values.
func helmFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "helm-values", Usage: "also write a values `FILE` for the Helm chart that points its images at the registry, by digest: every image block of the bundle's chart, or, for an image list, the matrix-stack blocks the built-in map names"},
		&cli.StringFlag{Name: "helm-map", Usage: "YAML `FILE` of component.container: values.path entries that add to or replace the built-in map of --helm-values (an empty path unmaps); for bundles of an image list"},
		&cli.StringSliceFlag{Name: "pull-secret", Usage: "a Secret `NAME` that --helm-values sets as every image's pullSecrets (repeatable; chart bundles)"},
	}, renderFlags()...)
}

// helmPlan is what push writes for Helm (nil: nothing).
type helmPlan struct {
	file    string
	charts  []*archive.Chart // every image block of each of the bundle's charts
	m       digests.HelmMap  // else: the built-in map merged with --helm-map
	secrets []string
}

// valuesFile is where the values of chart go: file, or, for a bundle of several charts, file
// with the chart's name before its extension (local-values.yaml: local-values.NAME.yaml).
func (p *helmPlan) valuesFile(ch *archive.Chart) string {
	if len(p.charts) < 2 {
		return p.file
	}
	ext := filepath.Ext(p.file)
	return strings.TrimSuffix(p.file, ext) + "." + ch.Name + ext
}

// planHelm reads and checks push's Helm flags against the bundle, before anything is pushed.
func planHelm(c *cli.Context, m *archive.Manifest) (*helmPlan, error) {
	file := c.String("helm-values")
	if file == "" {
		for _, f := range []string{"helm-map", "pull-secret", "values"} {
			if c.IsSet(f) {
				return nil, usagef("%s: --%s needs --helm-values", c.Command.Name, f)
			}
		}
		return nil, nil
	}
	if file == "-" && c.String("configmap") == "-" && len(containers(m)) > 0 {
		return nil, usagef("%s: --helm-values and --configmap cannot both be standard output", c.Command.Name)
	}
	p := &helmPlan{file: file, charts: m.AllCharts(), secrets: c.StringSlice("pull-secret")}
	if len(p.charts) > 0 {
		if c.IsSet("helm-map") {
			return nil, usagef("%s: --helm-map is for bundles of an image list; this bundle carries chart %s, and --helm-values covers every image block of it", c.Command.Name, p.charts[0].Name)
		}
		if len(p.charts) > 1 && (file == "-" || c.IsSet("values")) {
			return nil, usagef("%s: this bundle carries %d charts: --helm-values names a file (one is written per chart, the chart's name before its extension), and --values applies to one chart: check each with unbundle check-values --chart NAME --values ...", c.Command.Name, len(p.charts))
		}
		return p, nil
	}
	if len(p.secrets) > 0 || c.IsSet("values") {
		return nil, usagef("%s: --pull-secret and --values apply to bundles made with --chart", c.Command.Name)
	}
	p.m = digests.DefaultHelmMap()
	if path := c.String("helm-map"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		user, err := digests.ParseHelmMap(path, data)
		if err != nil {
			return nil, err
		}
		p.m = p.m.Merge(user)
	}
	return p, nil
}

// containers are the bundle's entries of the image list (not the chart, not its blocks).
func containers(m *archive.Manifest) map[string]bool {
	out := map[string]bool{}
	for _, im := range m.Images {
		if im.IsContainer() {
			out[im.Key()] = true
		}
	}
	return out
}

// serverFor is the registry as the cluster names it: --configmap-server, or the push host.
func serverFor(c *cli.Context, host string) string {
	if s := c.String("configmap-server"); s != "" {
		return s
	}
	return host
}

// writeChartValues writes --helm-values for one chart of the bundle: every image block of the
// chart at the repository it was pushed to, with the digest the registry served when read
// back, and prints where the chart is and how to install it.
func writeChartValues(c *cli.Context, e *env, p *helmPlan, rec *archive.Chart, m *archive.Manifest, pushed []digests.Image) error {
	byKey := map[string]digests.Image{}
	for _, im := range pushed {
		byKey[im.Key()] = im
	}
	var blocks []chart.Block
	var chartAt digests.Image
	for _, im := range m.Images {
		if im.Component != rec.Name || im.Kind != archive.KindChart && im.ValuesPath == "" {
			continue
		}
		got, ok := byKey[im.Key()]
		switch {
		case !ok:
			return fmt.Errorf("%s (%s) was not pushed", im.Key(), im.Ref())
		case im.Kind == archive.KindChart:
			chartAt = got
		default:
			blocks = append(blocks, chart.Block{Path: im.ValuesPath, Registry: serverFor(c, got.Server), Repository: got.Path, Tag: im.Tag, Digest: got.Digest})
		}
	}
	values, err := chart.LocalValues(blocks, p.secrets)
	if err != nil {
		return err
	}
	file := p.valuesFile(rec)
	if err := writeFile(e.stdout, file, values, 0o644); err != nil {
		return err
	}
	if file == "-" {
		file = "LOCAL-VALUES.yaml"
	}
	chartOpt := ""
	if len(p.charts) > 1 {
		chartOpt = " --chart " + rec.Name
	}
	fmt.Fprintf(e.stderr, `wrote Helm values %s: the %d image blocks of chart %s %s, from %s by digest
chart pushed: oci://%s/%s --version %s (digest %s)
Next steps:
  unbundle check-values --registry %s%s --helm-values %s [--values YOUR-VALUES.yaml ...] %s
  helm install %s oci://%s/%s --version %s -f YOUR-VALUES.yaml -f %s
`, file, len(blocks), rec.Name, rec.Version, serverFor(c, chartAt.Server), chartAt.Server, chartAt.Path, rec.Version,
		chartAt.Digest, c.String("registry"), chartOpt, absPath(file), absPath(bundleName(c)), releaseName(rec.Name),
		serverFor(c, chartAt.Server), chartAt.Path, rec.Version, absPath(file))
	return nil
}

// writeHelmValues writes --helm-values for a bundle of an image list: the images as the registry serves
// them, with --configmap-server as the registry when set, and lists on stderr the containers
// that have no place in the chart. images is not modified.
func writeHelmValues(c *cli.Context, e *env, m digests.HelmMap, images []digests.Image) error {
	images = slices.Clone(images)
	if server := c.String("configmap-server"); server != "" {
		for i := range images {
			images[i].Server = server
		}
	}
	values, unmapped, err := digests.HelmValues(images, m)
	if err != nil {
		return err
	}
	file := c.String("helm-values")
	if err := writeFile(e.stdout, file, values, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote Helm values %s for the matrix-stack chart: %d of %d containers mapped (helm upgrade ... -f %s)\n",
		file, len(images)-len(unmapped), len(images), file)
	if len(unmapped) > 0 {
		fmt.Fprintf(e.stderr, "not mapped (no image of the chart; --helm-map can add them): %s\n", strings.Join(unmapped, ", "))
	}
	return nil
}

// releaseName is the Helm release suggested for a chart: ess for matrix-stack (as Element's
// documentation names it), the chart's name for others.
func releaseName(chartName string) string {
	if chartName == "matrix-stack" {
		return "ess"
	}
	return chartName
}

// absPath is path made absolute, so that a printed command works from any directory; "-" and
// placeholders in capitals are kept.
func absPath(path string) string {
	if path == "-" || path == "" || strings.ToUpper(path) == path {
		return path
	}
	if abs, err := filepath.Abs(path); err == nil {
		return shellQuote(abs)
	}
	return shellQuote(path)
}

// bundleName is the bundle argument of the command, for printed commands.
func bundleName(c *cli.Context) string {
	if c.NArg() == 1 {
		return c.Args().First()
	}
	return "BUNDLE"
}
