package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
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
		Name:  "create",
		Usage: "pull the images of an images_digests.yml, or a Helm chart and every image of its values, into NAME.tar.zst (and NAME.tar.zst.sha256)",
		Description: `Images listed with a digest are pulled by digest; the others have their tag resolved once and
   the digest recorded. With --chart, the chart is carried as the OCI artifact it is (or, for a
   .tgz or directory, as helm push would make it) with every image block of its values, the
   --values files applied in order as helm -f applies them; blocks of disabled components
   included. --images and --chart can be given together. Multi-platform indexes are carried whole. Every blob is verified as it
   streams, straight to its place in the file. The output is written to NAME.tar.zst.partial
   and renamed when complete; the .sha256 exists only beside a complete bundle. A run that
   stops (a failure, Ctrl-C, a crash) leaves the .partial: run the same command again and it
   keeps every layer already written that still verifies. Set SOURCE_DATE_EPOCH for a
   reproducible file.

   With --split-size the bundle is written as parts NAME.tar.zst.001, .002, ... of exactly that
   size (the last holds the rest), as it streams: cat NAME.tar.zst.0* > NAME.tar.zst gives the
   bundle, and NAME.tar.zst.sha256 lists every part. --parity N adds N parity parts
   NAME.tar.zst.p01, ...: any N parts lost or damaged are rebuilt by unbundle repair.
   --sign-key signs NAME.tar.zst.sha256 (see bundle sign).`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "images", Usage: "the image list (images_digests.yml)"},
			&cli.StringFlag{Name: "chart", Usage: "a Helm chart: `oci://HOST/PATH/NAME:VERSION`, a chart .tgz or a chart directory"},
			&cli.StringSliceFlag{Name: "values", Usage: "a values `FILE` for --chart, applied in order like helm -f (repeatable): image overrides change what is pulled"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the bundle to write, NAME.tar.zst"},
			&cli.StringSliceFlag{Name: "include", Usage: "only these `component[.container]` (repeatable)"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "leave out these `component[.container]` (repeatable)"},
			&cli.StringSliceFlag{Name: "platform", Usage: "carry only this `os/arch[/variant]` of every multi-platform image (repeatable); the ConfigMap then carries the new digests"},
			&cli.StringFlag{Name: "since", Usage: "make a delta: leave out the layers that `OLD.tar.zst` (an earlier bundle) or an inventory.json (from unbundle inventory) has"},
			&cli.StringFlag{Name: "report", Usage: "write each image's outcome to `FILE.json`"},
			&cli.BoolFlag{Name: "dry-run", Usage: "resolve every image and print the plan (the chart's images and where each comes from, blobs, bytes to pull, bytes cached) without pulling layers or writing the bundle"},
			&cli.StringFlag{Name: "cache", Usage: "keep pulled blobs in `DIR` and reuse them in later runs (default: none; a stopped run's NAME.tar.zst.partial is resumed without it)"},
			&cli.StringFlag{Name: "auth-registry", Usage: "the registry `HOST` that --username is for (default: the list's only server, if it has one)"},
			&cli.StringFlag{Name: "split-size", Usage: "write the bundle in parts of `SIZE` bytes: a number with a unit (kB MB GB, KiB MiB GiB), or fat32 (4 GiB - 1), dvd (4.7 GB), bd (25 GB) (default: one file)"},
			&cli.IntFlag{Name: "parity", Usage: "with --split-size, write `N` parity parts, which rebuild any N parts lost or damaged"},
			&cli.StringFlag{Name: "sign-key", Usage: "sign the bundle with the ed25519 key `FILE` (see bundle sign)"},
			&cli.StringSliceFlag{Name: "referrers", Usage: "carry what refers to every image: cosign signatures, attestations and SBOMs (sha256-<hex>.sig, .att, .sbom tags) and OCI 1.1 referrers, and their own referrers; given a `TYPE` (repeatable), only referrers of that artifact type (application/vnd.dev.cosign.simplesigning.v1+json: cosign signatures)"},
		}, registryFlags(oci.DefaultJobs)...),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if err := required(c, "output"); err != nil {
				return err
			}
			if !c.IsSet("images") && !c.IsSet("chart") {
				return usagef("create: --images or --chart is required")
			}
			out := c.String("output")
			if !strings.HasSuffix(out, ".tar.zst") {
				return usagef("--output %q: the bundle name must end in .tar.zst", out)
			}
			var partSize int64
			var err error
			if s := c.String("split-size"); s != "" {
				if partSize, err = parseSize(s); err != nil {
					return usagef("--split-size: %v", err)
				}
			}
			parity := c.Int("parity")
			if parity < 0 || parity > 0 && partSize == 0 || parity >= 256 {
				return usagef("--parity %d: give --split-size too, and at most 255 parity parts", parity)
			}
			var signer ssh.Signer
			if k := c.String("sign-key"); k != "" {
				if signer, err = loadSigner("sign-key", k); err != nil {
					return err
				}
			}
			var list *digests.List
			var content []byte
			if c.IsSet("images") {
				if content, err = os.ReadFile(c.String("images")); err != nil {
					return err
				}
				if list, err = digests.Parse(c.String("images"), content); err != nil {
					return err
				}
				if list, err = list.Select(c.StringSlice("include"), c.StringSlice("exclude")); err != nil {
					return usagef("%v", err)
				}
			} else if c.IsSet("include") || c.IsSet("exclude") {
				return usagef("create: --include and --exclude select from --images")
			}
			values, err := readValues(c)
			if err != nil {
				return err
			}
			var platforms []manifest.Platform
			for _, s := range c.StringSlice("platform") {
				p, err := manifest.ParsePlatform(s)
				if err != nil {
					return usagef("--%v", err)
				}
				platforms = append(platforms, p)
			}
			var base *archive.Base
			var have func(string) bool
			var locals mirror.Locals
			if since := c.String("since"); since != "" {
				var earlier *archive.Bundle
				if base, have, earlier, err = delta.LoadBase(since); err != nil {
					return err
				}
				if earlier != nil { // its manifests and configs need not be fetched again
					defer earlier.Close()
					locals = append(locals, earlier)
				}
			}
			if l, closer, ok := mirror.UnfinishedLocal(out); ok { // a rerun: nor those a stopped run wrote
				defer closer.Close()
				locals = append(locals, l)
			}
			var local []oci.Option
			if len(locals) > 0 {
				local = append(local, oci.WithLocal(locals))
			}
			var refTypes []string
			for _, t := range c.StringSlice("referrers") {
				if t != "all" {
					refTypes = append(refTypes, t)
				}
			}
			client, err := newClient(c, e, authHost(c, list), local...)
			if err != nil {
				return err
			}
			var ch *mirror.Chart
			if ref := c.String("chart"); ref != "" {
				if ch, err = mirror.LoadChart(c.Context, client, ref, values); err != nil {
					return err
				}
			}
			created, err := sourceDateEpoch() // zero: now, or the unfinished bundle's, to resume it
			if err != nil {
				return err
			}
			start := time.Now()
			var res *mirror.Created
			err = withProgress(e, "pull", func(m *progress.Meter) error {
				var err error
				res, err = mirror.Create(c.Context, client, mirror.CreateOptions{
					List: list, ListContent: content, Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"),
					Output: out, Cache: c.String("cache"), Created: created, Tool: "bundle " + version.Version, Progress: m,
					Platforms: platforms, Base: base, Have: have, DryRun: c.Bool("dry-run"), Chart: ch, PartSize: partSize, Parity: parity,
					Referrers: c.IsSet("referrers"), ReferrerTypes: refTypes})
				return err
			})
			if res != nil {
				printFailures(e, res.Failed)
				for _, sk := range res.Skipped {
					fmt.Fprintf(e.stderr, "referrer %s of %s not carried: %s\n", sk.Referrer, sk.Image, sk.Reason)
				}
				if rp := c.String("report"); rp != "" {
					var done []outcome
					if res.Manifest != nil {
						for _, im := range res.Manifest.Images {
							done = append(done, outcome{Container: im.Key(), Image: im.Ref(), Digest: im.Digest})
						}
					}
					if rerr := writeReport(rp, nil, done, res.Failed); rerr != nil {
						return rerr
					}
				}
			}
			if res == nil || res.Manifest == nil {
				return err
			}
			if c.Bool("dry-run") {
				printChartPlan(e, ch, res.Manifest)
				p := res.Plan
				fmt.Fprintf(e.stdout, "plan for %s: %d containers, %d blobs (%s); to pull %s, in the cache %d blobs (%s), left out by --since %d layers (%s)\n",
					out, res.Manifest.Totals.Images, p.Blobs, progress.Bytes(p.Bytes), progress.Bytes(p.Pull), p.Cached,
					progress.Bytes(p.CachedBytes), p.External, progress.Bytes(p.ExternalBytes))
				return err
			}
			set, serr := archive.Locate(out)
			if serr != nil {
				return serr
			}
			t := res.Manifest.Totals
			fmt.Fprintf(e.stdout, "wrote %s: %d containers, %d blobs (%s), file %s in %s, sha256 %s, in %s\n", out, t.Images, t.Blobs,
				progress.Bytes(t.BlobBytes), progress.Bytes(set.Sums.Size), partsSummary(set.Sums), res.SHA256, time.Since(start).Round(time.Millisecond))
			if n := len(res.Manifest.Referrers); n > 0 || c.IsSet("referrers") {
				fmt.Fprintf(e.stdout, "carried %d referrers (signatures, attestations, SBOMs): see bundle list\n", n)
			}
			if k := res.Kept; k.Blobs > 0 || k.Taken > 0 {
				fmt.Fprintf(e.stdout, "resumed the unfinished run: kept %d layers (%s; %d checked against its checkpoint, %d verified in full), took up %d half-written layers where they stopped (%s written); pulled the rest\n",
					k.Blobs, progress.Bytes(k.Bytes), k.Checked, k.Verified, k.Taken, progress.Bytes(k.TakenBytes))
			}
			if m := res.Manifest; m.Base != nil {
				var left int64
				for _, b := range m.External {
					left += b.Size
				}
				fmt.Fprintf(e.stdout, "delta against %s %s: %d layers (%s) left out; push %s first\n", m.Base.Kind, m.Base.Name,
					len(m.External), progress.Bytes(left), m.Base.Name)
			}
			if signer != nil {
				if serr := signBundle(e, set, signer); serr != nil {
					return serr
				}
			}
			files := out
			if set.Split() {
				files = fmt.Sprintf("%s.001 to .%03d", out, len(set.Data))
				if len(set.Parity) > 0 {
					files += fmt.Sprintf(", .p01 to .p%02d", len(set.Parity))
				}
			}
			if signer != nil {
				files += ", " + out + ".sha256.sig"
			}
			fmt.Fprintf(e.stdout, "carry %s and %s.sha256 across; check with: sha256sum -c %s.sha256\n", files, out, out)
			return err // nil, or partial: the bundle holds every image that resolved
		},
	}
}

// authHost is the registry --username applies to: --auth-registry, or the list's only server.
func authHost(c *cli.Context, list *digests.List) string {
	if h := c.String("auth-registry"); h != "" || list == nil {
		return h
	}
	servers := map[string]bool{}
	for _, im := range list.Images {
		servers[im.Server] = true
	}
	if len(servers) == 1 {
		return list.Images[0].Server
	}
	return ""
}
