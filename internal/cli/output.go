package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/element-hq/ess-airgap/internal/archive"
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

// writeFile writes data to path with mode perm (atomicfile: a file is replaced whole, a
// device, a FIFO or /dev/stdout written in place); "-" or "" writes to stdout.
func writeFile(stdout io.Writer, path string, data []byte, perm os.FileMode) error {
	if path == "-" || path == "" {
		_, err := stdout.Write(data)
		return err
	}
	return atomicfile.WriteFile(path, data, perm)
}

// deltaNeeds says what the destination must hold before a delta bundle is pushed.
func deltaNeeds(b *archive.Base) string {
	if b.Kind == "inventory" {
		return "the destination must still hold what " + b.Name + " recorded"
	}
	return "push " + b.Name + " to the destination first"
}

// sumCheckCommand is the sha256sum command that checks the bundle out, from any directory:
// the checksum file names the files without their directory.
func sumCheckCommand(out string) string {
	dir, name := filepath.Split(out)
	if abs, err := filepath.Abs(dir); err == nil && dir != "" {
		return fmt.Sprintf("cd %s && sha256sum -c %s.sha256", shellQuote(abs), shellQuote(name))
	}
	return "sha256sum -c " + shellQuote(name) + ".sha256"
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
