package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/urfave/cli/v2"
)

// pushOptions reads unbundle push's flags, opens the bundle and the registry client
// (bundleAndRegistry), checks the bundle's provenance, and gives push.Run the command's
// progress, what it says once the push is done, and the steps that write the ConfigMap and the
// Helm values. The caller closes o.Bundle.
func pushOptions(c *cli.Context, e *env, start time.Time) (o push.RunOptions, err error) {
	if c.Bool("json") && (c.String("configmap") == "-" || c.String("helm-values") == "-") {
		return o, usagef("--json prints the report on standard output: give --configmap FILE (and --helm-values FILE)")
	}
	dest, b, client, err := bundleAndRegistry(c, e)
	if err != nil {
		return o, err
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if err := bundleProvenance(c, e, b); err != nil {
		return o, err
	}
	helm, err := planHelm(c, b.Manifest())
	if err != nil {
		return o, err
	}
	if ms := b.Manifest().Missing; len(ms) > 0 {
		fmt.Fprintf(e.stderr, "this bundle is %s\n", missingSummary(ms))
	}
	o = push.RunOptions{PushOptions: push.PushOptions{Destination: dest, Jobs: c.Int("jobs")}, Bundle: b, Client: client,
		AllowPartial: c.Bool("allow-partial"), Steps: pushSteps(c, e, client, b, dest, helm)}
	o.Show = func(run func(p mirror.Progress) error) error {
		return withProgress(e, "push", func(m *progress.Meter) error { return run(observed(e, m)) })
	}
	o.Told = func(res *push.Pushed, err error) { printPushTold(c, e, dest.Host, b.Manifest(), start, res, err) }
	return o, nil
}

// pushSteps writes the ConfigMap (--configmap) and the Helm values (--helm-values, helm: nil
// without), and runs the render check of each chart.
func pushSteps(c *cli.Context, e *env, client *oci.Client, b *archive.Bundle, dest push.Destination, helm *helmPlan) push.Steps {
	s := push.Steps{
		ConfigMap: func(listed []digests.Image) (string, error) {
			if err := writeConfigMap(c, e, listed); err != nil {
				return "", err
			}
			if f := c.String("configmap"); f != "-" {
				return f, nil
			}
			return "", nil
		},
		ChartOnly: func() {
			if c.IsSet("configmap") {
				fmt.Fprintln(e.stderr, "no ConfigMap written: the bundle has no image list, only a Helm chart (see --helm-values)")
			}
		},
	}
	switch {
	case helm == nil:
	case len(helm.charts) > 0:
		s.Charts = helm.charts
		s.ChartValues = func(rec *archive.Chart, images []digests.Image) (string, error) {
			return helm.valuesFile(rec), writeChartValues(c, e, helm, rec, b.Manifest(), images)
		}
		s.CheckChart = func(rec *archive.Chart) error { return checkAfterPush(c, e, client, b, dest, helm, rec) }
	default:
		s.HelmValues = func(listed []digests.Image) (string, error) { return helm.file, writeHelmValues(c, e, helm.m, listed) }
	}
	return s
}

// printPushTold says what the push did: the preflight's problems, or the counts and the
// failures, and what was not written because of them.
func printPushTold(c *cli.Context, e *env, host string, m *archive.Manifest, start time.Time, res *push.Pushed, err error) {
	if res == nil {
		return
	}
	if len(res.Problems) > 0 {
		printProblems(e, host, res.Problems)
		fmt.Fprintln(e.stderr, "nothing else pushed, no ConfigMap written: fix what is named above, then rerun the same command")
		return
	}
	s := res.Stats
	fmt.Fprintf(e.stderr, "pushed %d containers to %s in %s: blobs %d uploaded (%s), %d mounted, %d already there; manifests %d pushed, %d already there\n",
		len(res.Images), host, time.Since(start).Round(time.Millisecond), s.BlobsUploaded, progress.Bytes(s.BytesUploaded),
		s.BlobsMounted, s.BlobsSkipped, s.ManifestsPushed, s.ManifestsSkipped)
	if n := len(m.Referrers); n > 0 {
		fmt.Fprintf(e.stderr, "referrers (signatures, attestations, SBOMs): %d pushed, %d already there, %d failed\n",
			s.ReferrersPushed, s.ReferrersSkipped, s.ReferrersFailed)
	}
	printFailures(e, res.Failed, imageRefs(m))
	for _, k := range sortedKeys(res.ReferrersFailed) {
		fmt.Fprintf(e.stderr, "FAILED referrer %s: %v\n", k, res.ReferrersFailed[k])
	}
	switch {
	case errors.Is(err, push.ErrReferrers) && len(res.Failed) == 0: // the images and the ConfigMap are good
		fmt.Fprintln(e.stderr, "every image was pushed, some of their referrers were not (above): rerun the same command to push them")
	case err == nil:
	case exitCode(c.Context, err) == ExitVerify:
		fmt.Fprintln(e.stderr, "no ConfigMap written: the bundle is damaged (above)")
	case errors.Is(err, mirror.ErrStopped):
		fmt.Fprintln(e.stderr, "no ConfigMap written: the registry failed every upload alike (above), so the push stopped: fix the registry (its storage, its log), then rerun the same command (what is pushed is skipped)")
	case errors.Is(err, mirror.ErrRefused):
		fmt.Fprintln(e.stderr, "no ConfigMap written: the registry refuses some of the push (above); fix that, then rerun the same command (what is pushed is skipped)")
	case len(res.Failed) > 0:
		fmt.Fprintln(e.stderr, "no ConfigMap written: rerun the same command to resume (what is pushed is skipped)")
	}
}

// printPushed ends unbundle push: a partial bundle's refusal names --allow-partial, and the
// report (--report, --json) is written whatever the outcome. It returns the command's error.
func printPushed(c *cli.Context, e *env, o push.RunOptions, res *push.Result, start time.Time, err error) error {
	var missing *push.MissingError
	if errors.As(err, &missing) {
		err = partialAllowed(c, o.Bundle.Manifest(), "every image it carries was pushed; no ConfigMap or Helm values written", "ConfigMap and Helm values")
	}
	rep := pushReport(c, strings.Join(c.Args().Slice(), " "), res.Pushed, start)
	rep.ConfigMap, rep.HelmValues = res.ConfigMap, res.HelmValues
	rep.OK = rep.OK && err == nil
	if rp := c.String("report"); rp != "" && res.Pushed != nil {
		if rerr := writeReportFile(e.stdout, rp, rep); rerr != nil && err == nil {
			err = rerr
		}
	}
	if c.Bool("json") {
		if jerr := writeJSON(e.stdout, rep); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}
