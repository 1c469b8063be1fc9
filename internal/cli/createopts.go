package cli

import (
	"os"
	"strings"

	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// createOptions reads bundle create's flags into the run create.Run makes, and the signing key
// of --sign-key (nil without). Usage errors name the flag; nothing is opened but the files the
// flags name (the list, the values, the key, the policy).
func createOptions(c *cli.Context, e *env) (create.RunOptions, ssh.Signer, error) {
	var o create.RunOptions
	if err := noArgs(c); err != nil {
		return o, nil, err
	}
	if err := required(c, "output"); err != nil {
		return o, nil, err
	}
	plain, err := plainFiles(c)
	if err != nil {
		return o, nil, err
	}
	if !c.IsSet("images") && !c.IsSet("chart") && !c.IsSet("image") {
		return o, nil, usagef("create: --images, --chart or --image is required")
	}
	out := c.String("output")
	if !strings.HasSuffix(out, ".tar.zst") {
		return o, nil, usagef("--output %q: the bundle name must end in .tar.zst", out)
	}
	if o.PartSize, o.Parity, err = createParts(c); err != nil {
		return o, nil, err
	}
	var signer ssh.Signer
	if k := c.String("sign-key"); k != "" {
		if signer, err = loadSigner("sign-key", k); err != nil {
			return o, nil, err
		}
	}
	if err := createSources(c, &o.CreateOptions); err != nil {
		return o, nil, err
	}
	if err := createSelection(c, e, &o); err != nil {
		return o, nil, err
	}
	o.Output, o.Files, o.Cache, o.Jobs = out, plain, c.String("cache"), c.Int("jobs")
	o.Tool, o.DryRun, o.AllowPartial = version.Tool("bundle"), c.Bool("dry-run"), c.Bool("allow-partial")
	o.Since, o.Open = c.String("since"), bundleOpener(c, e)
	host := authHost(c, o.List, o.Extra)
	o.Client = func(local oci.Local) (*oci.Client, error) {
		if local == nil {
			return newClient(c, e, host)
		}
		return newClient(c, e, host, oci.WithLocal(local))
	}
	o.Show = func(pull func(p mirror.Progress) error) error {
		return withProgress(e, "pull", func(m *progress.Meter) error { return pull(observed(e, m)) })
	}
	return o, signer, nil
}

// createParts reads --split-size and --parity.
func createParts(c *cli.Context) (partSize int64, parity int, err error) {
	if s := c.String("split-size"); s != "" {
		if partSize, err = parseSize(s); err != nil {
			return 0, 0, usagef("--split-size: %v", err)
		}
	}
	parity = c.Int("parity")
	if parity < 0 || parity > 0 && partSize == 0 || parity >= 256 {
		return 0, 0, usagef("--parity %d: give --split-size too, and at most 255 parity parts", parity)
	}
	return partSize, parity, nil
}

// createSources reads the images to carry: --images (with --include and --exclude) and
// --image.
func createSources(c *cli.Context, o *create.CreateOptions) error {
	var err error
	if c.IsSet("images") {
		if o.ListContent, err = os.ReadFile(c.String("images")); err != nil {
			return err
		}
		if o.List, err = digests.Parse(c.String("images"), o.ListContent); err != nil {
			return err
		}
		o.Include, o.Exclude = c.StringSlice("include"), c.StringSlice("exclude")
		if o.List, err = o.List.Select(o.Include, o.Exclude); err != nil {
			return usagef("%v", err)
		}
	} else if c.IsSet("include") || c.IsSet("exclude") {
		return usagef("create: --include and --exclude select from --images")
	}
	for _, spec := range c.StringSlice("image") {
		im, err := digests.ParseExtra(spec)
		if err != nil {
			return usagef("%v", imageError(err))
		}
		o.Extra = append(o.Extra, im)
	}
	if _, err := digests.AddExtra(o.List, o.Extra); err != nil {
		return usagef("%v", imageError(err))
	}
	return nil
}

// createSelection reads what else shapes the bundle: --platform, --referrers, the provenance
// policy, the charts with their values, and SOURCE_DATE_EPOCH.
func createSelection(c *cli.Context, e *env, o *create.RunOptions) error {
	for _, s := range c.StringSlice("platform") {
		p, err := manifest.ParsePlatform(s)
		if err != nil {
			return usagef("--%v", err)
		}
		o.Platforms = append(o.Platforms, p)
	}
	o.Referrers = c.IsSet("referrers")
	for _, t := range c.StringSlice("referrers") {
		if t != "all" {
			o.ReferrerTypes = append(o.ReferrerTypes, t)
		}
	}
	var err error
	if o.Provenance, err = createProvenance(c, e); err != nil {
		return err
	}
	if o.ChartSources, err = chartSources(c, e); err != nil {
		return err
	}
	o.Created, err = sourceDateEpoch() // zero: now, or the unfinished bundle's, to resume it
	return err
}

// chartSources reads every --chart, each with its --values, in the order given.
func chartSources(c *cli.Context, e *env) ([]create.ChartSource, error) {
	refs := c.StringSlice("chart")
	if len(refs) == 0 {
		if c.IsSet("values") {
			return nil, usagef("create: --values applies to --chart")
		}
		return nil, nil
	}
	valuesOf, err := chartValues(e.args, refs, c.StringSlice("values"))
	if err != nil {
		return nil, err
	}
	out := make([]create.ChartSource, len(refs))
	for i, ref := range refs {
		values, err := readValueFiles(valuesOf[i])
		if err != nil {
			return nil, err
		}
		out[i] = create.ChartSource{Ref: ref, Values: values}
	}
	return out, nil
}
