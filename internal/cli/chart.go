package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/urfave/cli/v2"
)

// readValues reads the --values files, in order. They need --chart.
func readValues(c *cli.Context) ([]chart.ValuesFile, error) {
	names := c.StringSlice("values")
	if len(names) > 0 && !c.IsSet("chart") && c.Command.Name == "create" {
		return nil, usagef("create: --values applies to --chart")
	}
	var out []chart.ValuesFile
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("--values: %w", err)
		}
		out = append(out, chart.ValuesFile{Name: n, Data: data})
	}
	return out, nil
}

// printChartPlan lists the chart's images for --dry-run: each block's values path, the image
// it names, the digest it resolved to, and which file set each field.
func printChartPlan(e *env, ch *mirror.Chart, m *archive.Manifest) {
	if ch == nil {
		return
	}
	resolved := map[string]string{}
	for _, im := range m.Images {
		resolved[im.Key()] = im.Digest
	}
	fmt.Fprintf(e.stdout, "chart %s %s (%s), digest %s; %d image blocks, values applied: %s\n", ch.Chart.Name, ch.Chart.Version,
		ch.Ref, ch.Source.Digest, len(ch.Blocks), valuesNames(ch.Values))
	w := newTable(e.stdout)
	w.row("VALUES PATH", "IMAGE", "DIGEST", "SET BY")
	for i, b := range ch.Blocks {
		d := resolved[ch.Images()[i].Key()]
		if d == "" {
			d = "(not resolved)"
		}
		w.row(b.Path, b.Ref(), d, strings.Join(b.From, ", "))
	}
	w.flush()
}

func valuesNames(files []archive.File) string {
	if len(files) == 0 {
		return "none (the chart's defaults)"
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
