package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/urfave/cli/v2"
)

func unbundleApp(e *env) *cli.App {
	return &cli.App{
		Usage: "verify a bundle, push its images to the local registry and write the ConfigMap for ESS (air-gapped side)",
		Commands: []*cli.Command{
			pushCommand(e),
			checkCommand(e),
			checkValuesCommand(e),
			verifyCommand(e),
			repairCommand(e),
			listCommand(e),
			configMapCommand(e),
			secretCommand(e),
			diffCommand(e),
			inventoryCommand(e),
			serveCommand(e),
			extractCommand(e),
		},
	}
}

func destinationFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "registry", Usage: "the local registry, `HOST[:PORT][/PREFIX]`"},
		&cli.StringFlag{Name: "path-prefix", Usage: "a path put before every repository (after the registry's PREFIX)"},
		publicKeyFlag,
	}
}

// destination reads --registry (required) and --path-prefix.
func destination(c *cli.Context) (push.Destination, error) {
	if err := required(c, "registry"); err != nil {
		return push.Destination{}, err
	}
	d, err := push.ParseDestination(c.String("registry"), c.String("path-prefix"))
	if errors.Is(err, push.ErrRegistry) {
		return d, usagef("--registry %v", err)
	} else if err != nil {
		return d, usagef("%v", err)
	}
	return d, nil
}

func configMapFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "configmap", Value: "-", Usage: "where to write the ConfigMap `FILE` (- for standard output)"},
		&cli.StringFlag{Name: "name", Value: "local-images-digests", Usage: "the ConfigMap's name"},
		&cli.StringFlag{Name: "namespace", Value: "element-onprem", Usage: "the ConfigMap's namespace: the ElementDeployment's"},
		&cli.StringFlag{Name: "configmap-server", Usage: "the registry `HOST[:PORT]` as the cluster names it, when it differs from --registry's host"},
	}
}

func pushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "push every image of the bundle to the local registry, then write the ConfigMap",
		ArgsUsage: bundleArgsUsage,
		Description: `Blobs are read straight from the compressed file and verified as they stream: nothing
   unverified reaches the registry. Blobs the registry has are skipped; a blob another
   repository of the registry has is mounted. After the push every tag is read back, and the
   ConfigMap carries the digests the registry serves. Rerun after a failure to resume.
   A Helm chart in the bundle is pushed to HOST/PREFIX/<its repository path>:VERSION, the same
   digest; --helm-values then writes a values file that points every image block of the chart
   at the registry by digest, and the render check (see unbundle check-values) runs when helm is found.
   A bundle in parts is read in place, as verify reads it. With --public-key the signature is
   checked before anything else is read, and the bundle's offset table must be the signed one.
   With --policy (or a policy the bundle carries, once --public-key checked its signature),
   every image's signatures are checked offline, from what the bundle carries, before a byte
   is pushed: a refused image stops the push (exit 3).`,
		Flags: append(append(append(destinationFlags(), configMapFlags()...),
			&cli.StringFlag{Name: "report", Usage: "write the report (as --json prints it: docs/json.md) to `FILE.json`"},
			jsonFlag,
			allowPartialFlag,
			&cli.StringFlag{Name: "chunk-size", Usage: "upload blobs larger than `SIZE` (16MiB, 8388608) in chunks of that size from the start, for a proxy that limits request bodies (default: one request per blob, chunks only after a 413)"}),
			append(append(provenanceFlags("push"), helmFlags()...), registryFlags(mirror.DefaultPushJobs)...)...),
		Action: func(c *cli.Context) error {
			start := time.Now()
			o, err := pushOptions(c, e, start)
			if err != nil {
				return err
			}
			defer o.Bundle.Close()
			res, err := push.Run(c.Context, o)
			return printPushed(c, e, o, res, start, err)
		},
	}
}

// writeConfigMap renders the ConfigMap from what the registry serves and prints the next steps.
func writeConfigMap(c *cli.Context, e *env, images []digests.Image) error {
	server := c.String("configmap-server")
	if server != "" {
		for i := range images {
			images[i].Server = server
		}
	} else if len(images) > 0 {
		server = images[0].Server
	}
	cm, err := digests.ConfigMap(c.String("name"), c.String("namespace"), images)
	if err != nil {
		return err
	}
	file := c.String("configmap")
	if err := writeFile(e.stdout, file, cm, 0o644); err != nil {
		return err
	}
	if file == "-" {
		file = "CONFIGMAP.yaml"
	} else {
		file = absPath(file) // the command works from any directory
	}
	fmt.Fprintf(e.stderr, `
Next steps:
  kubectl apply -f %s -n %s
  In the ESS Installer, "Cluster advanced": images digests ConfigMap = %s
  If the registry needs credentials: unbundle secret --registry %s --username USER --password-stdin --name local-registry --namespace %s --output secret.yaml
    and add to dockerSecrets: {url: %q, name: local-registry}
`, file, c.String("namespace"), c.String("name"), server, c.String("namespace"), server)
	return nil
}

func configMapCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "configmap",
		Usage:     "write the ConfigMap for images already pushed, with the digests the registry serves",
		ArgsUsage: "NAME.tar.zst",
		Flags:     append(append(append(destinationFlags(), configMapFlags()...), allowPartialFlag), registryFlags(mirror.DefaultJobs)...),
		Action: func(c *cli.Context) error {
			dest, b, client, err := bundleAndRegistry(c, e)
			if err != nil {
				return err
			}
			defer b.Close()
			if err := partialAllowed(c, b.Manifest(), "no ConfigMap written", "ConfigMap"); err != nil {
				return err
			}
			res, err := push.ReadBack(c.Context, client, b, dest, c.Int("jobs"))
			if res != nil {
				printFailures(e, res.Failed, imageRefs(b.Manifest()))
			}
			if err != nil {
				return err
			}
			keep := containers(b.Manifest())
			var listed []digests.Image
			for _, im := range res.Images {
				if keep[im.Key()] {
					listed = append(listed, im)
				}
			}
			return writeConfigMap(c, e, listed)
		},
	}
}

func secretCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "secret",
		Usage: "write the kubernetes.io/dockerconfigjson Secret for the local registry, as kubectl create secret docker-registry would",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "registry", Usage: "the registry `HOST[:PORT]` exactly as the ConfigMap's image_repository_server says it"},
			&cli.StringFlag{Name: "username", Usage: "registry username"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input (else $REGISTRY_PASSWORD)"},
			&cli.StringFlag{Name: "name", Value: "local-registry", Usage: "the Secret's name"},
			&cli.StringFlag{Name: "namespace", Value: "element-onprem", Usage: "the Secret's namespace"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "`FILE` to write (mode 0600), - for standard output"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if err := required(c, "registry", "username"); err != nil {
				return err
			}
			pw, err := password(c, e)
			if err != nil {
				return err
			}
			host, _, _ := strings.Cut(c.String("registry"), "/")
			s, err := digests.Secret(c.String("name"), c.String("namespace"), host, c.String("username"), pw)
			if err != nil {
				return err
			}
			return writeFile(e.stdout, c.String("output"), s, 0o600)
		},
	}
}
