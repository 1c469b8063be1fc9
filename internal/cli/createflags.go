package cli

import (
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/urfave/cli/v2"
)

// createDescription is bundle create's --help text.
const createDescription = `Images listed with a digest are pulled by digest; the others have their tag resolved once and
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
   by unbundle extract NAME.tar.zst NAME --dir DIR.`

// createFlags are bundle create's flags.
func createFlags() []cli.Flag {
	return append([]cli.Flag{
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
	}, append(append(fileFlags(), provenanceFlags("create")...), registryFlags(mirror.DefaultJobs)...)...)
}
