package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/urfave/cli/v2"
)

// helmFlags are push's flags for the matrix-stack Helm values.
func helmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "helm-values", Usage: "also write a values `FILE` for the matrix-stack Helm chart that points its images at the registry, by digest"},
		&cli.StringFlag{Name: "helm-map", Usage: "YAML `FILE` of component.container: values.path entries that add to or replace the built-in map of --helm-values (an empty path unmaps)"},
	}
}

// loadHelmMap returns the map --helm-values will use: the built-in one, merged with --helm-map.
// It is nil when --helm-values is not set. Called before the push, so that a bad map fails
// before any byte moves.
func loadHelmMap(c *cli.Context) (digests.HelmMap, error) {
	file := c.String("helm-values")
	if file == "" {
		if c.IsSet("helm-map") {
			return nil, usagef("%s: --helm-map needs --helm-values", c.Command.Name)
		}
		return nil, nil
	}
	if file == "-" && c.String("configmap") == "-" {
		return nil, usagef("%s: --helm-values and --configmap cannot both be standard output", c.Command.Name)
	}
	m := digests.DefaultHelmMap()
	if path := c.String("helm-map"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		user, err := digests.ParseHelmMap(path, data)
		if err != nil {
			return nil, err
		}
		m = m.Merge(user)
	}
	return m, nil
}

// writeHelmValues writes --helm-values (when m is not nil) for the images as the registry serves
// them, with --configmap-server as the registry when set, and lists on stderr the containers
// that have no place in the chart. images is not modified.
func writeHelmValues(c *cli.Context, e *env, m digests.HelmMap, images []digests.Image) error {
	if m == nil {
		return nil
	}
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
