package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
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
		Flags: append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print one JSON document: old, new, added, removed, changed, unchanged, delta (two bundles only)"},
			&cli.StringSliceFlag{Name: "values", Usage: "a values `FILE` applied to a chart side, in order like helm -f (repeatable)"}}, registryFlags(4)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("diff: want two arguments, OLD and NEW, got %d (flags go before them)", c.NArg())
			}
			old, err := loadDiffSide(c, e, c.Args().Get(0))
			if err != nil {
				return err
			}
			new, err := loadDiffSide(c, e, c.Args().Get(1))
			if err != nil {
				return err
			}
			doc := diffDoc{Old: old.path, New: new.path, Changes: digests.Diff(old.images, new.images)}
			if old.blobs != nil && new.blobs != nil {
				d := deltaOf(old.blobs, new.blobs)
				doc.Delta = &d
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, doc)
			}
			fmt.Fprintf(e.stdout, "old: %s (%s)\nnew: %s (%s)\n", old.path, old.what(), new.path, new.what())
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

// diffDoc is what `diff --json` prints.
type diffDoc struct {
	Old string `json:"old"`
	New string `json:"new"`
	digests.Changes
	Delta *deltaSize `json:"delta,omitempty"`
}

// deltaSize counts NEW's blobs that OLD does not hold, out of all of NEW's.
type deltaSize struct {
	Blobs      int   `json:"blobs"`
	Bytes      int64 `json:"bytes"`
	TotalBlobs int   `json:"totalBlobs"`
	TotalBytes int64 `json:"totalBytes"`
}

// deltaOf sums the blobs of new whose digest is not among old's: the bytes a delta from old to
// new would carry. Blobs are counted once per digest.
func deltaOf(old, new []archive.Blob) deltaSize {
	have := make(map[string]bool, len(old))
	for _, b := range old {
		have[b.Digest] = true
	}
	var d deltaSize
	seen := make(map[string]bool, len(new))
	for _, b := range new {
		if seen[b.Digest] {
			continue
		}
		seen[b.Digest] = true
		d.TotalBlobs++
		d.TotalBytes += b.Size
		if !have[b.Digest] {
			d.Blobs++
			d.Bytes += b.Size
		}
	}
	return d
}

// diffSide is one argument of diff: its images, and its blobs when it is a bundle (nil otherwise).
type diffSide struct {
	path   string
	images []digests.Image
	blobs  []archive.Blob
	chart  string // "NAME VERSION" when the side is a chart
}

// isChart tells a chart argument of diff: oci://, a .tgz, or a directory with a Chart.yaml.
func isChart(path string) bool {
	if strings.HasPrefix(path, "oci://") || strings.HasSuffix(path, ".tgz") {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "Chart.yaml"))
	return err == nil
}

func (s *diffSide) what() string {
	if s.chart != "" {
		return fmt.Sprintf("chart %s, %d image blocks", s.chart, len(s.images)-1)
	}
	if s.blobs != nil {
		return fmt.Sprintf("bundle, %d containers, %d blobs", len(s.images), len(s.blobs))
	}
	return fmt.Sprintf("image list, %d containers", len(s.images))
}

// loadDiffSide reads an image list, the manifest of a bundle when path ends in .tar.zst, or
// the image blocks of a chart.
func loadDiffSide(c *cli.Context, e *env, path string) (*diffSide, error) {
	if isChart(path) {
		values, err := readValues(c)
		if err != nil {
			return nil, err
		}
		var client *oci.Client
		if rest, ok := strings.CutPrefix(path, "oci://"); ok {
			host, _, _ := strings.Cut(rest, "/")
			if client, err = newClient(c, e, host); err != nil {
				return nil, err
			}
		}
		ch, err := mirror.LoadChart(c.Context, client, path, values)
		if err != nil {
			return nil, err
		}
		return &diffSide{path: path, chart: ch.Chart.Name + " " + ch.Chart.Version, images: append([]digests.Image{ch.Source}, ch.Images()...)}, nil
	}
	if !strings.HasSuffix(path, ".tar.zst") {
		l, err := digests.ParseFile(path)
		if err != nil {
			return nil, err
		}
		return &diffSide{path: path, images: l.Images}, nil
	}
	b, err := archive.Open(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	m := b.Manifest()
	s := &diffSide{path: path, blobs: append([]archive.Blob{}, m.Blobs...)}
	for _, im := range m.Images {
		s.images = append(s.images, digests.Image{Component: im.Component, Container: im.Container,
			Server: im.Server, Path: im.Path, Tag: im.Tag, Digest: im.Digest})
	}
	return s, nil
}
