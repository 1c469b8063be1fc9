package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/urfave/cli/v2"
)

// readValues reads the --values files, in order.
func readValues(c *cli.Context) ([]chart.ValuesFile, error) {
	return readValueFiles(c.StringSlice("values"))
}

// readValueFiles reads values files, in order.
func readValueFiles(names []string) ([]chart.ValuesFile, error) {
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

// chartValues pairs each --chart with its --values, as the command line orders them: a
// --values applies to the --chart before it, and those given before any --chart to the first
// (with one chart, every --values applies to it, wherever it is). args is the command line as
// given; charts and values are what the flags parsed, which the pairing must account for.
func chartValues(args, charts, values []string) ([][]string, error) {
	out := make([][]string, len(charts))
	if len(charts) == 1 {
		out[0] = values
		return out, nil
	}
	current, seen := 0, 0
	var got []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "chart" && name != "values" {
			continue
		}
		if !inline {
			if i+1 == len(args) {
				break
			}
			i++
			value = args[i]
		}
		if name == "chart" {
			current, seen = seen, seen+1
			continue
		}
		got = append(got, value)
		if current < len(out) {
			out[current] = append(out[current], value)
		}
	}
	if seen != len(charts) || !slices.Equal(got, values) {
		return nil, usagef("create: cannot tell which --values belongs to which --chart: give each --chart then its --values, as separate arguments")
	}
	return out, nil
}

// printChartPlan lists the chart's images for --dry-run: each block's values path, the image
// it names, the digest it resolved to, and which file set each field.
func printChartPlan(e *env, ch *create.Chart, m *archive.Manifest) {
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
