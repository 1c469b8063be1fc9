package cli

import (
	"fmt"
	"os"
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
	chart   bool            // every image block of the bundle's chart
	m       digests.HelmMap // else: the built-in map merged with --helm-map
	secrets []string
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
	p := &helmPlan{file: file, chart: m.Chart != nil, secrets: c.StringSlice("pull-secret")}
	if p.chart {
		if c.IsSet("helm-map") {
			return nil, usagef("%s: --helm-map is for bundles of an image list; this bundle carries chart %s, and --helm-values covers every image block of it", c.Command.Name, m.Chart.Name)
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

// writeChartValues writes --helm-values for a chart bundle: every image block of the chart at
// the repository it was pushed to, with the digest the registry served when read back, and
// prints where the chart is and how to install it.
func writeChartValues(c *cli.Context, e *env, p *helmPlan, m *archive.Manifest, pushed []digests.Image) error {
	byKey := map[string]digests.Image{}
	for _, im := range pushed {
		byKey[im.Key()] = im
	}
	var blocks []chart.Block
	var chartAt digests.Image
	for _, im := range m.Images {
		got, ok := byKey[im.Key()]
		switch {
		case !ok:
			return fmt.Errorf("%s (%s) was not pushed", im.Key(), im.Ref())
		case im.Kind == archive.KindChart:
			chartAt = got
		case im.ValuesPath != "":
			blocks = append(blocks, chart.Block{Path: im.ValuesPath, Registry: serverFor(c, got.Server), Repository: got.Path, Tag: im.Tag, Digest: got.Digest})
		}
	}
	values, err := chart.LocalValues(blocks, p.secrets)
	if err != nil {
		return err
	}
	if err := writeFile(e.stdout, p.file, values, 0o644); err != nil {
		return err
	}
	file := p.file
	if file == "-" {
		file = "LOCAL-VALUES.yaml"
	}
	fmt.Fprintf(e.stderr, `wrote Helm values %s: the %d image blocks of chart %s %s, from %s by digest
chart pushed: oci://%s/%s --version %s (digest %s)
Next steps:
  unbundle check-values --registry %s --helm-values %s [--values YOUR-VALUES.yaml ...] BUNDLE
  helm install ess oci://%s/%s --version %s -f YOUR-VALUES.yaml -f %s
`, file, len(blocks), m.Chart.Name, m.Chart.Version, serverFor(c, chartAt.Server), chartAt.Server, chartAt.Path, m.Chart.Version,
		chartAt.Digest, c.String("registry"), file, serverFor(c, chartAt.Server), chartAt.Path, m.Chart.Version, file)
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
