package cli

import (
	"slices"

	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/urfave/cli/v2"
)

func bundleApp(e *env) *cli.App {
	return &cli.App{
		Usage: "pull every image of an ESS image list or Helm chart into one verified .tar.zst bundle (connected side)",
		Commands: []*cli.Command{
			createCommand(e),
			signCommand(e),
			verifyCommand(e),
			listCommand(e),
			diffCommand(e),
		},
	}
}

func createCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "create",
		Usage:       "pull the images of an images_digests.yml, or a Helm chart and every image of its values, into NAME.tar.zst (and NAME.tar.zst.sha256)",
		Description: createDescription,
		Flags:       createFlags(),
		Action: func(c *cli.Context) error {
			o, signer, err := createOptions(c, e)
			if err != nil {
				return err
			}
			res, err := create.Run(c.Context, o)
			return printCreated(c, e, o, res, signer, sinceError(err))
		},
	}
}

// authHost is the registry --username applies to: --auth-registry, or the only server of the
// list and the extra images.
func authHost(c *cli.Context, list *digests.List, extra []digests.Image) string {
	if h := c.String("auth-registry"); h != "" {
		return h
	}
	all := extra
	if list != nil {
		all = append(slices.Clone(list.Images), extra...)
	}
	servers := map[string]bool{}
	for _, im := range all {
		servers[im.Server] = true
	}
	if len(servers) == 1 {
		return all[0].Server
	}
	return ""
}
