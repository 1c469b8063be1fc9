package cli

import (
	"fmt"

	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

// diffCommand is `diff OLD NEW`, shared by both programs.
func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "what an upgrade adds, removes and changes: two image lists, bundles or Helm charts, or one of each",
		ArgsUsage: "OLD NEW",
		Description: `OLD and NEW are each an image list (images_digests.yml), a bundle (a name ending in
   .tar.zst; only its manifest is read) or a Helm chart (oci://HOST/PATH/NAME:VERSION, a .tgz
   or a chart directory: its image blocks, the --values files applied, as bundle create --chart
   reads them; entries NAME.<values path>, and NAME.chart for the chart itself). Containers are matched by component.container; for each
   changed one, the fields that differ (server, path, tag, digest) are shown old -> new. A digest
   is compared only when both sides give one. When both are bundles, the blobs of NEW that OLD
   does not hold are counted: what a delta would carry. Exit code 0 whether or not they differ.`,
		Flags: append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print one JSON document: old, new, added, removed, changed, unchanged, delta (two bundles only; docs/json.md)"},
			&cli.StringSliceFlag{Name: "values", Usage: "a values `FILE` applied to a chart side, in order like helm -f (repeatable)"}, mirrorFlag,
			publicKeyFlag}, registryFlags(mirror.DefaultJobs)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("diff: want two arguments, OLD and NEW, got %d", c.NArg())
			}
			values, err := readValues(c)
			if err != nil {
				return err
			}
			client := func(host string) (*oci.Client, error) { return newClient(c, e, host) }
			old, err := create.LoadDiffSide(c.Context, c.Args().Get(0), values, client, bundleOpener(c, e))
			if err != nil {
				return err
			}
			new, err := create.LoadDiffSide(c.Context, c.Args().Get(1), values, client, bundleOpener(c, e))
			if err != nil {
				return err
			}
			doc := diffDoc{Old: old.Path, New: new.Path, Changes: digests.Diff(old.Images, new.Images)}
			if old.Blobs != nil && new.Blobs != nil {
				d := create.Delta(old.Blobs, new.Blobs)
				doc.Delta = &d
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, doc.report())
			}
			fmt.Fprintf(e.stdout, "old: %s (%s)\nnew: %s (%s)\n", old.Path, old.What(), new.Path, new.What())
			fmt.Fprint(e.stdout, doc.Changes.Text())
			if d := doc.Delta; d != nil {
				fmt.Fprintf(e.stdout, "delta: %d of %d blobs, %s of %s: what NEW holds that OLD does not\n",
					d.Blobs, d.TotalBlobs, progress.Bytes(d.Bytes), progress.Bytes(d.TotalBytes))
			} else {
				fmt.Fprintln(e.stdout, "delta: not known (give two bundles to count the bytes a delta would carry)")
			}
			return nil
		},
	}
}

// diffDoc is what diff found.
type diffDoc struct {
	Old, New string
	Changes  digests.Changes
	Delta    *create.DeltaSize
}

// report is what `diff --json` prints.
func (d diffDoc) report() report.Diff {
	r := report.Diff{SchemaVersion: report.SchemaVersion, Command: "diff", Old: d.Old, New: d.New, Added: []report.DiffEntry{},
		Removed: []report.DiffEntry{}, Changed: []report.DiffChange{}, Unchanged: d.Changes.Unchanged}
	entry := func(e digests.Entry) report.DiffEntry {
		return report.DiffEntry{Key: e.Key, Server: e.Server, Path: e.Path, Tag: e.Tag, Digest: e.Digest}
	}
	for _, e := range d.Changes.Added {
		r.Added = append(r.Added, entry(e))
	}
	for _, e := range d.Changes.Removed {
		r.Removed = append(r.Removed, entry(e))
	}
	for _, ch := range d.Changes.Changed {
		rc := report.DiffChange{Key: ch.Key, Fields: []report.FieldChange{}}
		for _, f := range ch.Fields {
			rc.Fields = append(rc.Fields, report.FieldChange{Field: f.Field, Old: f.Old, New: f.New})
		}
		r.Changed = append(r.Changed, rc)
	}
	if d.Delta != nil {
		r.Delta = &report.Delta{Blobs: d.Delta.Blobs, Bytes: d.Delta.Bytes, TotalBlobs: d.Delta.TotalBlobs, TotalBytes: d.Delta.TotalBytes}
	}
	return r
}
