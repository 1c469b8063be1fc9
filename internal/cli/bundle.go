package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/provenance"
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
   keeps every layer already written that still verifies. A run that could not pull every
   image writes no bundle either, and says which and why (grouped by cause); --allow-partial
   writes one whose manifest lists them. Set SOURCE_DATE_EPOCH for a reproducible file.

   Names are read as Docker reads them (docker.io/postgres is docker.io/library/postgres).
   --mirror pulls a registry's images from a pull-through cache, with the cache's credentials;
   everything recorded and printed keeps the upstream names. --image adds single images
   (extra.NAME), and --chart may be given several times, each followed by its --values.

   With --split-size the bundle is written as parts NAME.tar.zst.001, .002, ... of exactly that
   size (the last holds the rest), as it streams: cat NAME.tar.zst.0* > NAME.tar.zst gives the
   bundle, and NAME.tar.zst.sha256 lists every part. --parity N adds N parity parts
   NAME.tar.zst.p01, ...: any N parts lost or damaged are rebuilt by unbundle repair.
   --sign-key signs NAME.tar.zst.sha256 (see bundle sign).

   --file and --with-unbundle carry plain files after the images (the ESS Installer, CRDs,
   the site's values, the unbundle binary for the bastion): each is an entry of its own that
   zstd -dc NAME.tar.zst | tar -x NAME extracts, listed by list, and written out, verified,
   by unbundle extract NAME.tar.zst NAME --dir DIR.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "images", Usage: "the image list (images_digests.yml)"},
			&cli.StringSliceFlag{Name: "image", Usage: "carry this image too: a `REFERENCE` as docker pull takes it (postgres:17, quay.io/jetstack/cert-manager-controller:v1.15.0), listed as extra.<last path element>, or COMPONENT.CONTAINER=REFERENCE to name it (repeatable)"},
			&cli.StringSliceFlag{Name: "chart", Usage: "a Helm chart: `oci://HOST/PATH/NAME:VERSION`, a chart .tgz or a chart directory (repeatable: each chart with its own --values)"},
			&cli.StringSliceFlag{Name: "values", Usage: "a values `FILE` for the --chart before it, applied in order like helm -f (repeatable): image overrides change what is pulled"},
			&cli.BoolFlag{Name: "allow-partial", Usage: "write the bundle even when some images cannot be pulled: its manifest lists them as missing, and unbundle push writes the ConfigMap or Helm values of it only with --allow-partial too (default: no bundle, the .partial kept for the rerun)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the bundle to write, NAME.tar.zst"},
			&cli.StringSliceFlag{Name: "include", Usage: "only these `component[.container]` (repeatable)"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "leave out these `component[.container]` (repeatable)"},
			&cli.StringSliceFlag{Name: "platform", Usage: "carry only this `os/arch[/variant]` of every multi-platform image (repeatable); the ConfigMap then carries the new digests"},
			&cli.StringFlag{Name: "since", Usage: "make a delta: leave out the layers that `OLD.tar.zst` (an earlier bundle) or an inventory.json (from unbundle inventory) has"},
			&cli.StringFlag{Name: "report", Usage: "write the report (as --json prints it: docs/json.md) to `FILE.json`"},
			jsonFlag,
			&cli.BoolFlag{Name: "dry-run", Usage: "resolve every image and print the plan (the chart's images and where each comes from, blobs, bytes to pull, bytes cached) without pulling layers or writing the bundle"},
			&cli.StringFlag{Name: "cache", Usage: "keep pulled blobs in `DIR` and reuse them in later runs (default: none; a stopped run's NAME.tar.zst.partial is resumed without it)"},
			&cli.StringFlag{Name: "auth-registry", Usage: "the registry `HOST` that --username is for (default: the list's only server, if it has one; a registry with a --mirror: the mirror)"},
			&cli.StringFlag{Name: "split-size", Usage: "write the bundle in parts of `SIZE` bytes: a number with a unit (kB MB GB, KiB MiB GiB), or fat32 (4 GiB - 1), dvd (4.7 GB), bd (25 GB) (default: one file)"},
			&cli.IntFlag{Name: "parity", Usage: "with --split-size, write `N` parity parts, which rebuild any N parts lost or damaged"},
			&cli.StringFlag{Name: "sign-key", Usage: "sign the bundle with the ed25519 key `FILE` (see bundle sign)"},
			mirrorFlag,
			&cli.StringSliceFlag{Name: "referrers", Usage: "carry what refers to every image: cosign signatures, attestations and SBOMs (sha256-<hex>.sig, .att, .sbom tags) and OCI 1.1 referrers, and their own referrers; given a `TYPE` (repeatable), only referrers of that artifact type (application/vnd.dev.cosign.simplesigning.v1+json: cosign signatures)"},
			publicKeyFlag,
		}, append(append(fileFlags(), provenanceFlags("create")...), registryFlags(mirror.DefaultJobs)...)...),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if err := required(c, "output"); err != nil {
				return err
			}
			plain, err := plainFiles(c)
			if err != nil {
				return err
			}
			if !c.IsSet("images") && !c.IsSet("chart") && !c.IsSet("image") {
				return usagef("create: --images, --chart or --image is required")
			}
			out := c.String("output")
			if !strings.HasSuffix(out, ".tar.zst") {
				return usagef("--output %q: the bundle name must end in .tar.zst", out)
			}
			var partSize int64
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
			var extra []digests.Image
			for _, spec := range c.StringSlice("image") {
				im, err := digests.ParseExtra(spec)
				if err != nil {
					return usagef("%v", imageError(err))
				}
				extra = append(extra, im)
			}
			if _, err := digests.AddExtra(list, extra); err != nil {
				return usagef("%v", imageError(err))
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
				if base, have, earlier, err = delta.LoadBase(since, bundleOpener(c, e)); err != nil {
					return sinceError(err)
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
			prov, err := createProvenance(c, e)
			if err != nil {
				return err
			}
			if prov != nil && (!c.IsSet("referrers") || len(refTypes) > 0) { // the signatures are carried, to be checked again
				refTypes = append(refTypes, provenance.SignatureTypes()...)
			}
			client, err := newClient(c, e, authHost(c, list, extra), local...)
			if err != nil {
				return err
			}
			charts, err := loadCharts(c, e, client)
			if err != nil {
				return err
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
					List: list, ListContent: content, Extra: extra, Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"),
					Output: out, Cache: c.String("cache"), Created: created, Tool: version.Tool("bundle"), Progress: observed(e, m),
					Platforms: platforms, Base: base, Have: have, DryRun: c.Bool("dry-run"), Charts: charts, AllowPartial: c.Bool("allow-partial"), PartSize: partSize, Parity: parity,
					Referrers: c.IsSet("referrers") || prov != nil, ReferrerTypes: refTypes, Provenance: prov, Files: plain, Jobs: c.Int("jobs")})
				return err
			})
			if res != nil {
				printCreateProvenance(e, res.Provenance)
				refs := sourceRefs(list, extra, charts) // when nothing could be pulled, there is no manifest
				if res.Manifest != nil {
					refs = imageRefs(res.Manifest)
				}
				printFailures(e, res.Failed, refs)
				for _, sk := range res.Skipped {
					fmt.Fprintf(e.stderr, "referrer %s of %s not carried: %s\n", sk.Referrer, sk.Image, sk.Reason)
				}
				rep := createReport(c, out, res, start, signer != nil)
				if rp := c.String("report"); rp != "" {
					if rerr := writeReportFile(e.stdout, rp, rep); rerr != nil {
						return rerr
					}
				}
				if c.Bool("json") {
					if signer != nil && res.Manifest != nil && !c.Bool("dry-run") {
						set, serr := trust.Find(c.Context, trust.Trust{}, out)
						if serr == nil {
							serr = signBundle(&env{stdout: e.stderr, stderr: e.stderr, log: e.log}, set, signer)
						}
						if serr != nil {
							return serr
						}
					}
					if jerr := writeJSON(e.stdout, rep); jerr != nil {
						return jerr
					}
					return err
				}
			}
			if res == nil || res.Manifest == nil {
				return err
			}
			if c.Bool("dry-run") {
				for _, ch := range charts {
					printChartPlan(e, ch, res.Manifest)
				}
				p := res.Plan
				fmt.Fprintf(e.stdout, "plan for %s: %d containers, %d blobs (%s); to pull %s, in the cache %d blobs (%s), left out by --since %d layers (%s)\n",
					out, res.Manifest.Totals.Images, p.Blobs, progress.Bytes(p.Bytes), progress.Bytes(p.Pull), p.Cached,
					progress.Bytes(p.CachedBytes), p.External, progress.Bytes(p.ExternalBytes))
				return err
			}
			if res.Unfinished {
				fmt.Fprintf(e.stderr, "no bundle written: %d containers could not be pulled (above); %s.partial keeps every layer pulled.\n"+
					"  Fix what is named and run the same command again: it pulls only what is missing.\n"+
					"  Or add --allow-partial to write a bundle without them (its manifest lists them as missing).\n",
					len(res.Failed), out)
				return err
			}
			set, serr := trust.Find(c.Context, trust.Trust{}, out)
			if serr != nil {
				return serr
			}
			t := res.Manifest.Totals
			fmt.Fprintf(e.stdout, "wrote %s: %d containers, %d blobs (%s), file %s in %s, sha256 %s, in %s\n", out, t.Images, t.Blobs,
				progress.Bytes(t.BlobBytes), progress.Bytes(set.Sums.Size), partsSummary(set.Sums), res.SHA256, time.Since(start).Round(time.Millisecond))
			if n := len(res.Manifest.Referrers); n > 0 || c.IsSet("referrers") {
				fmt.Fprintf(e.stdout, "carried %d referrers (signatures, attestations, SBOMs): see bundle list\n", n)
			}
			if fs := res.Manifest.Files; len(fs) > 0 {
				var names []string
				for _, f := range fs {
					names = append(names, f.Name)
				}
				fmt.Fprintf(e.stdout, "carried %d files: %s (unbundle extract %s NAME... --dir DIR writes them out)\n", len(fs), strings.Join(names, ", "), out)
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
				fmt.Fprintf(e.stdout, "delta against %s %s: %d layers (%s) left out; %s\n", m.Base.Kind, m.Base.Name,
					len(m.External), progress.Bytes(left), deltaNeeds(m.Base))
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
			if ms := res.Manifest.Missing; len(ms) > 0 {
				fmt.Fprintf(e.stdout, "%s; unbundle push writes the ConfigMap or Helm values of this bundle only with --allow-partial\n", missingSummary(ms))
			}
			fmt.Fprintf(e.stdout, "carry %s and %s.sha256 across; check with: %s\n", files, out, sumCheckCommand(out))
			return err // nil, or partial (--allow-partial): the bundle holds every image that was pulled
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
