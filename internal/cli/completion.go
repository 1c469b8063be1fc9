package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shells completion writes scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// completionCommand is `completion SHELL`: a completion script made from the commands and
// flags of this very program.
func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh, fish or powershell",
		ArgsUsage: "bash|zsh|fish|powershell",
		Description: `Install it once, for example:
     bash:        bundle completion bash > /etc/bash_completion.d/bundle
                  (or: source <(bundle completion bash) in ~/.bashrc)
     zsh:         bundle completion zsh > "${fpath[1]}/_bundle"
     fish:        bundle completion fish > ~/.config/fish/completions/bundle.fish
     powershell:  bundle completion powershell | Out-String | Invoke-Expression (in $PROFILE)
   It completes the commands, each command's flags, the values of --log-format and the
   shells of completion; other arguments complete as file names.`,
		Action: func(c *cli.Context) error {
			shell, err := oneArg(c, "shell")
			if err != nil {
				return err
			}
			script, err := completionScript(c.App, shell)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.stdout, script)
			return err
		},
	}
}

// compCommand is what a completion script knows of one command.
type compCommand struct {
	name, usage string
	flags       []compFlag
}

type compFlag struct {
	names      []string // "--images", "-o"
	usage      string
	takesValue bool
}

// commandsOf lists app's visible commands and their flags (help included), sorted.
func commandsOf(app *cli.App) []compCommand {
	var out []compCommand
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		cc := compCommand{name: c.Name, usage: c.Usage}
		seen := map[string]bool{}
		for _, f := range append(c.Flags, cli.HelpFlag) {
			if seen[f.Names()[0]] {
				continue // urfave/cli adds --help to a command once it ran
			}
			seen[f.Names()[0]] = true
			cf := compFlag{}
			if d, ok := f.(cli.DocGenerationFlag); ok {
				cf.takesValue, cf.usage = d.TakesValue(), d.GetUsage()
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					cf.names = append(cf.names, "-"+n)
				} else {
					cf.names = append(cf.names, "--"+n)
				}
			}
			cc.flags = append(cc.flags, cf)
		}
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// flagValues are the values a flag's completion offers.
var flagValues = map[string][]string{"--log-format": {"text", "json"}}

// argValues are the arguments a command's completion offers (others: file names).
var argValues = map[string][]string{"completion": shells}

func completionScript(app *cli.App, shell string) (string, error) {
	cmds := commandsOf(app)
	switch shell {
	case "bash":
		return bashCompletion(app.Name, cmds), nil
	case "zsh":
		return zshCompletion(app.Name, cmds), nil
	case "fish":
		return fishCompletion(app.Name, cmds), nil
	case "powershell":
		return powershellCompletion(app.Name, cmds), nil
	}
	return "", usagef("completion: unknown shell %q: %s", shell, strings.Join(shells, ", "))
}

// firstSentence is a usage cut to its first clause, without the characters completion
// syntaxes treat specially.
func firstSentence(s string) string {
	if i := strings.IndexAny(s, ":;("); i > 0 {
		s = s[:i]
	}
	s = strings.NewReplacer("'", "", "[", "", "]", "", "`", "", "\"", "", "$", "", "\\", "", "\n", " ").Replace(s)
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.TrimSpace(s)
}

func flagNames(c compCommand, withValue bool) []string {
	var out []string
	for _, f := range c.flags {
		if !withValue || f.takesValue {
			out = append(out, f.names...)
		}
	}
	return out
}
