// Command mangen is `make man`: it writes the man pages of bundle and unbundle, made from their
// command definitions (cli.Man), to DIR/bundle.1 and DIR/unbundle.1.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/element-hq/ess-airgap/internal/cli"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}

// run writes the man pages into -dir (default man/), creating it.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mangen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "man", "the directory to write bundle.1 and unbundle.1 in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the directory is -dir DIR)", fs.Arg(0))
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for _, prog := range []string{"bundle", "unbundle"} {
		page, err := cli.Man(prog)
		if err != nil {
			return err
		}
		path := filepath.Join(*dir, prog+".1")
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (man -l %s)\n", path, path)
	}
	return nil
}
