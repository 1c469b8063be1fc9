package cli

import (
	"fmt"

	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
)

func init() {
	// --version prints what `version` prints (urfave/cli's printer is a package variable).
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, version.Get())
	}
}

// versionCommand is `version`, in both programs.
func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, build date, Go version and platform of this binary",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, report.Version{SchemaVersion: report.SchemaVersion, Program: c.App.Name, Info: version.Get()})
			}
			fmt.Fprintf(e.stdout, "%s %s\n", c.App.Name, version.Get())
			return nil
		},
	}
}
