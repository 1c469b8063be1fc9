package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

// renderFlags are the flags of the render check, shared by push (--helm-values) and check-values.
func renderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "values", Usage: "the operator's values `FILE` for the chart, as given to helm install -f (repeatable, in order; default: those the bundle was made with)"},
		&cli.StringFlag{Name: "helm", Value: "helm", Usage: "the helm `BINARY` that renders the chart for the check (a path, or a name on PATH)"},
		&cli.StringFlag{Name: "kube-version", Usage: "the Kubernetes `VERSION` helm renders for (helm template --kube-version)"},
	}
}

func checkValuesCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "check-values",
		Usage:     "render the bundle's Helm chart with the operator's values and the written values, and list every image not pulled from the local registry by digest",
		ArgsUsage: "NAME.tar.zst",
		Description: `The chart is rendered by helm (helm template, the operator's own binary: --helm) with the
   --values files, then the --helm-values file that unbundle push wrote, as helm install would
   apply them. Every container, init container, job and cronjob image must be
   SERVER/PATH@sha256:... (SERVER: --configmap-server, else --registry's host) and the registry
   must serve that manifest. Each one that is not is listed with the workloads that run it, and
   the exit code is 6. The chart is pulled from the registry, where push put it, and must be
   the bundle's; --from-bundle renders the bundle's copy instead.`,
		Flags: append(append(destinationFlags(),
			&cli.StringFlag{Name: "helm-values", Usage: "the values `FILE` unbundle push --helm-values wrote"},
			&cli.StringFlag{Name: "configmap-server", Usage: "the registry `HOST[:PORT]` as the cluster names it, when it differs from --registry's host"},
			&cli.BoolFlag{Name: "from-bundle", Usage: "render the chart carried in the bundle, not the one in the registry"},
			&cli.StringFlag{Name: "chart", Usage: "the chart `NAME` to check, of a bundle of several charts"},
			jsonFlag,
		), append(renderFlags(), registryFlags(mirror.DefaultJobs)...)...),
		Action: func(c *cli.Context) error {
			if err := required(c, "helm-values"); err != nil {
				return err
			}
			dest, b, client, err := bundleAndRegistry(c, e)
			if err != nil {
				return err
			}
			defer b.Close()
			rec, err := chartToCheck(b.Manifest(), c.String("chart"))
			if err != nil {
				return fmt.Errorf("%s: %w: nothing to check", c.Args().First(), err)
			}
			rep, err := runCheck(c, e, client, b, dest, rec, c.String("helm-values"))
			if c.Bool("json") && rep.Chart != "" {
				if err != nil {
					rep.Error = err.Error()
				}
				if jerr := writeJSON(e.stdout, rep); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
}

// runCheck renders a chart of the bundle with the operator's values and the local values
// file, and prints what would not come from the local registry by digest. It returns what
// check-values --json prints (its Chart empty when the check could not start).
func runCheck(c *cli.Context, e *env, client *oci.Client, b *archive.Bundle, dest push.Destination, rec *archive.Chart, valuesFile string) (report.CheckValues, error) {
	rep := report.CheckValues{SchemaVersion: report.SchemaVersion, Command: "check-values", Values: []string{}, NotLocal: []report.NotLocal{}}
	values, err := readValues(c)
	if err != nil {
		return rep, err
	}
	from := "the operator's --values"
	if !c.IsSet("values") {
		for _, f := range rec.Values {
			values = append(values, chart.ValuesFile{Name: f.Name + " (as recorded in the bundle)", Data: []byte(f.Content)})
		}
		from = "the values the bundle was made with (" + valuesNames(rec.Values) + ")"
	}
	local, err := os.ReadFile(valuesFile)
	if err != nil {
		return rep, err
	}
	values = append(values, chart.ValuesFile{Name: valuesFile, Data: local})
	rep.Chart, rep.Version = rec.Name, rec.Version
	for _, v := range values {
		rep.Values = append(rep.Values, v.Name)
	}
	uses, bad, err := push.CheckChart(c.Context, client, b, push.RenderCheckOptions{Destination: dest, Server: c.String("configmap-server"),
		FromBundle: c.Bool("from-bundle"), Chart: rec.Name, Render: chart.RenderOptions{Helm: c.String("helm"), KubeVersion: c.String("kube-version"), Values: values}})
	for _, u := range bad {
		var msg strings.Builder
		fmt.Fprintf(&msg, "NOT LOCAL %s: %s\n", u.Image, u.Reason)
		nl := report.NotLocal{Image: u.Image, Reason: u.Reason, UsedBy: []string{}}
		for _, use := range u.Uses {
			fmt.Fprintf(&msg, "    used by %s\n", use)
			nl.UsedBy = append(nl.UsedBy, use.String())
		}
		fmt.Fprint(e.stderr, msg.String()) // one message
		rep.NotLocal = append(rep.NotLocal, nl)
	}
	images := map[string]bool{}
	for _, u := range uses {
		images[u.Image] = true
	}
	rep.Containers, rep.Images = len(uses), len(images)
	if err != nil {
		return rep, fmt.Errorf("render check of chart %s %s with %s and %s: %w", rec.Name, rec.Version, from, valuesFile, helmError(err))
	}
	rep.OK = true
	fmt.Fprintf(e.stderr, "render check: chart %s %s with %s and %s runs %d containers, %d images, every one from the local registry by digest\n",
		rec.Name, rec.Version, from, valuesFile, len(uses), len(images))
	return rep, nil
}

// checkAfterPush runs the render check of one chart at the end of push when helm can be found;
// without helm it says how to run the check later. A chart that does not render without the
// site's values (matrix-stack requires serverName and ingress hosts), when the operator gave
// none, is not a failed push: the check is skipped, saying what the chart asked for and the
// command that checks the values once they are written.
func checkAfterPush(c *cli.Context, e *env, client *oci.Client, b *archive.Bundle, dest push.Destination, p *helmPlan, rec *archive.Chart) error {
	file := p.valuesFile(rec)
	if file == "-" {
		return nil
	}
	chartOpt := ""
	if len(p.charts) > 1 {
		chartOpt = " --chart " + rec.Name
	}
	later := fmt.Sprintf("unbundle check-values --registry %s%s --helm-values %s --values YOUR-VALUES.yaml %s",
		c.String("registry"), chartOpt, absPath(file), absPath(bundleName(c)))
	if _, err := exec.LookPath(c.String("helm")); err != nil && !c.IsSet("helm") && errors.Is(err, exec.ErrNotFound) {
		fmt.Fprintf(e.stderr, "render check not run: no helm on PATH; where helm is (or with --helm BINARY), run:\n  %s\n", later)
		return nil
	}
	_, err := runCheck(c, e, client, b, dest, rec, file)
	var refused *chart.RefusedError
	if errors.As(err, &refused) && !c.IsSet("values") {
		fmt.Fprintf(e.stderr, "render check skipped: chart %s %s does not render without the site's values; it asks for:\n    %s\n"+
			"  The push itself is complete. Once the site's values are written, check them with:\n  %s\n",
			rec.Name, rec.Version, strings.Join(refused.Asked, "\n    "), later)
		return nil
	}
	return err
}
