package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// optionalValue are the flags that take a value but may be given without one, and the value
// they then have: `bundle create --referrers` carries every referrer, `--referrers TYPE` those
// of TYPE. Without a value the flag must be last or followed by another flag.
var optionalValue = map[string]string{"referrers": "all"}

// hoistFlags moves the flags that follow a command's arguments before them, so that
// `unbundle push ess.tar.zst --registry X` means what kubectl, docker and helm users expect:
// urfave/cli stops reading flags at the first argument. args is os.Args (program, command,
// then the rest). A flag that takes a value takes the next argument unless it is written
// --flag=value; "--" ends the flags, and what follows stays where it is.
func hoistFlags(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		v := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			v = d.TakesValue()
		}
		for _, n := range f.Names() {
			takesValue[n] = v
		}
	}
	var flags, positional []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			name := strings.TrimLeft(a, "-")
			if v, ok := optionalValue[name]; ok && (i+1 == len(rest) || strings.HasPrefix(rest[i+1], "-")) {
				flags = append(flags, a+"="+v)
				continue
			}
			flags = append(flags, a)
			if takesValue[name] && !strings.Contains(name, "=") && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	return append(out, positional...)
}

// oneArg returns the single positional argument, refusing extras (flags that follow it were
// moved before it by hoistFlags).
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 0:
		return "", usagef("%s: missing %s argument", c.Command.Name, what)
	case 1:
		return c.Args().First(), nil
	}
	return "", usagef("%s: unexpected %q after the %s argument", c.Command.Name, c.Args().Get(1), what)
}

// required checks that flags were given: after the argument check, so that a flag placed after
// the argument is reported as such.
func required(c *cli.Context, names ...string) error {
	for _, n := range names {
		if !c.IsSet(n) {
			return usagef("%s: --%s is required", c.Command.Name, n)
		}
	}
	return nil
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q (this command takes none)", c.Command.Name, c.Args().First())
	}
	return nil
}
