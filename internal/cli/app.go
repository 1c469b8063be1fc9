package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
)

// env is what a command reads and writes besides files.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer // stderr is log, as --log-format and --quiet say
	log            *logger
	args           []string // as given (args[0] is the program): the order of repeated flags
}

// Main runs the named program ("bundle" or "unbundle") with args (args[0] is the program) and
// returns its exit code.
func Main(ctx context.Context, prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	lg := &logger{w: stderr, prog: prog}
	e := &env{stdin: stdin, stdout: stdout, stderr: lg, log: lg, args: args}
	if path := os.Getenv("ESS_AIRGAP_CPUPROFILE"); path != "" { // for make bench and profiling
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	app, err := newApp(prog, e)
	if err != nil {
		return exitReport(ctx, lg, err)
	}
	return exitReport(ctx, lg, app.RunContext(ctx, hoistFlags(app, args)))
}

// newApp makes the named program's command line: its commands, each with the log flags, the
// exit codes in every help, errors returned rather than exits.
func newApp(prog string, e *env) (*cli.App, error) {
	var app *cli.App
	switch prog {
	case "bundle":
		app = bundleApp(e)
	case "unbundle":
		app = unbundleApp(e)
	default:
		return nil, fmt.Errorf("unknown program %q", prog)
	}
	app.Name = prog
	app.Version = version.Get().Version
	app.Commands = append(app.Commands, versionCommand(e), completionCommand(e))
	app.Writer, app.ErrWriter = e.stdout, e.log.w
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.HideHelpCommand = true
	app.CustomAppHelpTemplate = cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n"
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usagef("%s", didYouMean(c, err.Error())) }
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		c.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitCodesHelp + "\n"
		c.Flags = append(c.Flags, logFlags()...)
		c.Before = func(c *cli.Context) error {
			if c.Bool("quiet") && !c.Bool("json") && quietStdout[c.Command.Name] {
				e.stdout = io.Discard // its summary is all it prints there
			}
			return e.log.configure(c)
		}
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usagef("unknown command %q (see --help)", c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	return app, nil
}

// quietStdout are the commands whose standard output is a summary that --quiet silences.
var quietStdout = map[string]bool{"create": true, "verify": true, "sign": true, "repair": true}
