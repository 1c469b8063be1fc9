package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/element-hq/ess-airgap/internal/atomicfile"
	"github.com/urfave/cli/v2"
)

// jsonFlag is --json of the commands that report (docs/json.md).
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the report as one JSON document on standard output (docs/json.md)"}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table { return &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} }

func (t *table) row(cols ...string) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() { t.tw.Flush() }

// writeFile writes data to path atomically with mode perm; "-" or "" writes to stdout.
func writeFile(stdout io.Writer, path string, data []byte, perm os.FileMode) error {
	if path == "-" || path == "" {
		_, err := stdout.Write(data)
		return err
	}
	return atomicfile.WriteFile(path, data, perm)
}
