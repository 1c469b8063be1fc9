package cli

import (
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/urfave/cli/v2"
)

// mirrorFlag is --mirror, on the commands that pull from upstream registries.
var mirrorFlag = &cli.StringSliceFlag{Name: "mirror", Usage: "pull `REGISTRY=LOCATION[/PREFIX]`: the images of REGISTRY (docker.io, ghcr.io, ...) from a pull-through cache, REGISTRY/PATH as LOCATION/PREFIX/PATH, with LOCATION's credentials from the Docker config (repeatable, one per registry); the bundle and every message keep the original names"}

// mirrors reads --mirror.
func mirrors(c *cli.Context) ([]oci.Mirror, error) {
	var out []oci.Mirror
	for _, s := range c.StringSlice("mirror") {
		m, err := oci.ParseMirror(s)
		if err != nil {
			return nil, optionError(err)
		}
		out = append(out, m)
	}
	return out, nil
}
