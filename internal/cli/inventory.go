package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

// inventoryCommand is `unbundle inventory`.
func inventoryCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "inventory",
		Usage:     "record every tag, manifest and blob digest the local registry holds for the repositories of a bundle or image list",
		ArgsUsage: "NAME.tar.zst|images_digests.yml",
		Description: `The repositories are those the bundle's (or the list's) images map to under --registry and
   --path-prefix, as push maps them. Each one's tags are listed, and what each tag serves is
   walked through the registry API (pull access only). A repository the registry does not have
   is recorded with no tags. The file holds digests, repository paths, tags and the --registry
   string: no credentials. Carry it to the connected side for bundle create --since.`,
		Flags: append(append(destinationFlags(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "`FILE` to write (inventory.json), - for standard output"},
			jsonFlag),
			registryFlags(mirror.DefaultJobs)...),
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "bundle or image list")
			if err != nil {
				return err
			}
			if err := stdoutTaken(c, "output"); err != nil {
				return err
			}
			dest, err := destination(c)
			if err != nil {
				return err
			}
			created, err := createdTime()
			if err != nil {
				return err
			}
			values, err := readValues(c)
			if err != nil {
				return err
			}
			side, err := create.LoadDiffSide(c.Context, path, values, func(host string) (*oci.Client, error) { return newClient(c, e, host) }, bundleOpener(c, e)) // the images of a bundle's manifest, a list or a chart
			if err != nil {
				return err
			}
			repos := make([]string, 0, len(side.Images))
			for _, im := range side.Images {
				repos = append(repos, graph.Repo(dest.Prefix, im.Path))
			}
			client, err := newClient(c, e, dest.Host)
			if err != nil {
				return err
			}
			inv, err := push.TakeInventory(c.Context, client, dest, repos, c.Int("jobs"))
			if err != nil {
				return err
			}
			inv.Created = created.Truncate(time.Second) // $SOURCE_DATE_EPOCH when set
			var sb strings.Builder
			if err := writeJSON(&sb, inv); err != nil {
				return err
			}
			out := c.String("output")
			if err := writeFile(e.stdout, out, []byte(sb.String()), 0o644); err != nil {
				return err
			}
			if out == "-" {
				out = "standard output"
			}
			tags, empty := 0, 0
			for _, r := range inv.Repositories {
				tags += len(r.Tags)
				if len(r.Tags) == 0 {
					empty++
				}
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, report.Inventory{SchemaVersion: report.SchemaVersion, Command: "inventory", Registry: inv.Registry,
					Output: out, Repositories: len(inv.Repositories), Absent: empty, Tags: tags, Manifests: len(inv.Manifests), Blobs: len(inv.Blobs)})
			}
			fmt.Fprintf(e.stderr, "inventory of %s: %d repositories (%d absent or empty), %d tags, %d manifests, %d blobs; %s written to %s\n",
				inv.Registry, len(inv.Repositories), empty, tags, len(inv.Manifests), len(inv.Blobs), progress.Bytes(int64(sb.Len())), out)
			return nil
		},
	}
}
