package cli

import (
	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/urfave/cli/v2"
)

// bundleAndRegistry starts every command that takes a bundle and the local registry: it reads
// the bundle argument(s) and --registry, opens the bundle (its signature first, with
// --public-key; parts in place) and makes the registry client. The caller closes the bundle.
func bundleAndRegistry(c *cli.Context, e *env) (push.Destination, *archive.Bundle, *oci.Client, error) {
	if _, err := bundleArgs(c); err != nil {
		return push.Destination{}, nil, nil, err
	}
	dest, err := destination(c)
	if err != nil {
		return dest, nil, nil, err
	}
	b, err := openBundle(c, e, true)
	if err != nil {
		return dest, nil, nil, err
	}
	client, err := newClient(c, e, dest.Host)
	if err != nil {
		b.Close()
		return dest, nil, nil, err
	}
	return dest, b, client, nil
}
