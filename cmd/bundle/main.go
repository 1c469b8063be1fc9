// Command bundle: see `bundle --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/element-hq/ess-airgap/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, "bundle", os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
