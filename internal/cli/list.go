package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/inspect"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/urfave/cli/v2"
)

// listCommand is `list NAME.tar.zst`, shared by both programs.
func listCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the images of a bundle, read from the head of the file",
		ArgsUsage: bundleArgsUsage,
		Flags: []cli.Flag{jsonFlag,
			&cli.BoolFlag{Name: "manifest", Usage: "print the bundle manifest (bundle.json, docs/bundle-format.md) as it is"}, publicKeyFlag},
		Action: func(c *cli.Context) error {
			b, err := openBundle(c, e, false)
			if err != nil {
				return err
			}
			defer b.Close()
			args := strings.Join(c.Args().Slice(), " ")
			switch {
			case c.Bool("manifest"):
				return writeJSON(e.stdout, b.Manifest())
			case c.Bool("json"):
				return writeJSON(e.stdout, listReport(args, b))
			}
			refs, err := inspect.Referrers(c.Context, b)
			if err != nil {
				return err
			}
			printList(e, b, refs, args)
			return nil
		},
	}
}

// printList prints the bundle's images as a table, each with its provenance and referrers
// (refs, by image digest), then the rest of what it carries and its totals; args are the
// bundle argument(s) as given, for the extract hint.
func printList(e *env, b *archive.Bundle, refs map[string][]graph.Referrer, args string) {
	m := b.Manifest()
	w := newTable(e.stdout)
	w.row("CONTAINER", "SOURCE", "DIGEST", "UPSTREAM DIGEST", "PLATFORMS")
	for _, im := range m.Images {
		up := im.UpstreamDigest
		if up == "" {
			up = "(same)"
		}
		w.row(im.Key(), im.Ref(), im.Digest, up, strings.Join(im.Platforms, ","))
		for _, l := range provenanceLines(m, im) {
			w.row("  provenance", l, "", "", "")
		}
		for _, r := range refs[im.Digest] {
			how := "referrer"
			if r.Tag != "" {
				how = "tag " + r.Tag
			}
			w.row(strings.Repeat("  ", r.Depth)+"└ "+r.ArtifactType, "of "+r.Of+" ("+how+")", r.Digest, "", "")
		}
	}
	w.flush()
	if n := len(m.Referrers); n > 0 {
		fmt.Fprintf(e.stdout, "%d referrers (signatures, attestations, SBOMs), each under the image it refers to\n", n)
	}
	if p := m.Provenance; p != nil {
		fmt.Fprintf(e.stdout, "provenance: signatures checked at create against %s (%s); unbundle verify --policy (or --public-key) checks them again, offline\n",
			p.Policy.Name, p.Policy.Digest)
	}
	for _, ch := range m.AllCharts() {
		fmt.Fprintf(e.stdout, "chart %s %s from %s (digest %s), values applied: %s; its image blocks are the %s.<values path> entries\n",
			ch.Name, ch.Version, ch.Ref, ch.Digest, valuesNames(ch.Values), ch.Name)
	}
	for _, f := range m.Files {
		fmt.Fprintf(e.stdout, "file %s: %s, %s (unbundle extract %s %s --dir DIR)\n", f.Name, progress.Bytes(f.Size), f.Digest,
			args, f.Name)
	}
	if len(m.Missing) > 0 {
		fmt.Fprintf(e.stdout, "%s (made with --allow-partial)\n", missingSummary(m.Missing))
	}
	if m.Base != nil {
		fmt.Fprintf(e.stdout, "delta bundle: relies on %s %s (%s) for %d layers it does not carry\n", m.Base.Kind, m.Base.Name, m.Base.Digest, len(m.External))
	}
	fmt.Fprintf(e.stdout, "%d containers, %d blobs, %s of blobs; bundle %s, created %s by %s\n", m.Totals.Images,
		m.Totals.Blobs, progress.Bytes(m.Totals.BlobBytes), progress.Bytes(b.Size()), m.Created.Format(time.RFC3339), m.Tool)
}
