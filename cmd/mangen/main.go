// Command mangen is `make man`: it writes the man pages of bundle and unbundle, made from their
// command definitions (cli.Man), to DIR/bundle.1 and DIR/unbundle.1.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/element-hq/ess-airgap/internal/cli"
)

func main() {
	dir := flag.String("dir", "man", "the directory to write bundle.1 and unbundle.1 in")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
	for _, prog := range []string{"bundle", "unbundle"} {
		page, err := cli.Man(prog)
		if err == nil {
			err = os.WriteFile(filepath.Join(*dir, prog+".1"), []byte(page), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "mangen:", err)
			os.Exit(1)
		}
		fmt.Printf("wrote %s (man -l %s)\n", filepath.Join(*dir, prog+".1"), filepath.Join(*dir, prog+".1"))
	}
}
