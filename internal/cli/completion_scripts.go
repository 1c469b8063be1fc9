package cli

import (
	"fmt"
	"strings"
)

// The completion scripts, one generator per shell, from the same list of commands and flags.

func bashCompletion(prog string, cmds []compCommand) string {
	fn := "_" + strings.ReplaceAll(prog, "-", "_") + "_complete"
	var b strings.Builder
	fmt.Fprintf(&b, "# bash completion for %[1]s: %[1]s completion bash > /etc/bash_completion.d/%[1]s\n", prog)
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("    local cur prev cmd i flags values\n")
	b.WriteString("    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n    cmd=\"\"\n")
	b.WriteString("    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	b.WriteString("        case \"${COMP_WORDS[i]}\" in -*) ;; *) cmd=\"${COMP_WORDS[i]}\"; break ;; esac\n    done\n")
	for flag, vals := range flagValues {
		fmt.Fprintf(&b, "    if [[ \"$prev\" == %s ]]; then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; fi\n", flag, strings.Join(vals, " "))
	}
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	b.WriteString("    case \"$cmd\" in\n")
	fmt.Fprintf(&b, "    \"\") COMPREPLY=($(compgen -W \"%s --help --version\" -- \"$cur\")); return ;;\n", strings.Join(names, " "))
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s) flags=\"%s\"; values=\"%s\" ;;\n", c.name, strings.Join(flagNames(c, false), " "), strings.Join(argValues[c.name], " "))
	}
	b.WriteString("    *) return ;;\n    esac\n")
	b.WriteString("    if [[ \"$cur\" == -* ]]; then COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\")); return; fi\n")
	b.WriteString("    if [[ -n \"$values\" ]]; then COMPREPLY=($(compgen -W \"$values\" -- \"$cur\")); return; fi\n")
	b.WriteString("    COMPREPLY=() # file names: complete -o default\n}\n")
	fmt.Fprintf(&b, "complete -o default -F %s %s\n", fn, prog)
	return b.String()
}

func zshCompletion(prog string, cmds []compCommand) string {
	fn := "_" + strings.ReplaceAll(prog, "-", "_")
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %[1]s\n# zsh completion for %[1]s: %[1]s completion zsh > \"${fpath[1]}/_%[1]s\"\n", prog)
	fmt.Fprintf(&b, "%s() {\n    local -a commands\n    commands=(\n", fn)
	for _, c := range cmds {
		fmt.Fprintf(&b, "        '%s:%s'\n", c.name, firstSentence(c.usage))
	}
	b.WriteString("    )\n    if (( CURRENT == 2 )); then\n        _describe 'command' commands\n        return\n    fi\n")
	b.WriteString("    case $words[2] in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n        _arguments -s \\\n", c.name)
		for _, f := range c.flags {
			for _, n := range f.names {
				spec := "'" + n + "[" + firstSentence(f.usage) + "]'"
				if f.takesValue {
					action := "_files"
					if vals, ok := flagValues[n]; ok {
						action = "(" + strings.Join(vals, " ") + ")"
					}
					spec = "'*" + n + "=[" + firstSentence(f.usage) + "]:value:" + action + "'"
				}
				fmt.Fprintf(&b, "            %s \\\n", spec)
			}
		}
		if vals, ok := argValues[c.name]; ok {
			fmt.Fprintf(&b, "            '1:argument:(%s)'\n", strings.Join(vals, " "))
		} else {
			b.WriteString("            '*:file:_files'\n")
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString("    esac\n}\n")
	fmt.Fprintf(&b, "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    %[1]s \"$@\"\nelse\n    compdef %[1]s %[2]s\nfi\n", fn, prog)
	return b.String()
}

func fishCompletion(prog string, cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %[1]s: %[1]s completion fish > ~/.config/fish/completions/%[1]s.fish\n", prog)
	fmt.Fprintf(&b, "complete -c %s -f\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -a %s -d '%s'\n", prog, c.name, firstSentence(c.usage))
	}
	for _, c := range cmds {
		cond := "'__fish_seen_subcommand_from " + c.name + "'"
		for _, f := range c.flags {
			var opts []string
			for _, n := range f.names {
				if strings.HasPrefix(n, "--") {
					opts = append(opts, "-l "+strings.TrimPrefix(n, "--"))
				} else {
					opts = append(opts, "-s "+strings.TrimPrefix(n, "-"))
				}
			}
			if f.takesValue {
				if vals, ok := flagValues[f.names[0]]; ok {
					opts = append(opts, "-x -a '"+strings.Join(vals, " ")+"'")
				} else {
					opts = append(opts, "-r -F")
				}
			}
			fmt.Fprintf(&b, "complete -c %s -n %s %s -d '%s'\n", prog, cond, strings.Join(opts, " "), firstSentence(f.usage))
		}
		if vals, ok := argValues[c.name]; ok {
			fmt.Fprintf(&b, "complete -c %s -n %s -a '%s'\n", prog, cond, strings.Join(vals, " "))
		} else {
			fmt.Fprintf(&b, "complete -c %s -n %s -F\n", prog, cond)
		}
	}
	return b.String()
}

func powershellCompletion(prog string, cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# PowerShell completion for %[1]s: %[1]s completion powershell | Out-String | Invoke-Expression\n", prog)
	fmt.Fprintf(&b, "Register-ArgumentCompleter -Native -CommandName '%[1]s', '%[1]s.exe' -ScriptBlock {\n", prog)
	b.WriteString("    param($wordToComplete, $commandAst, $cursorPosition)\n    $commands = @{\n")
	for _, c := range cmds {
		words := append(flagNames(c, false), argValues[c.name]...)
		fmt.Fprintf(&b, "        '%s' = @('%s')\n", c.name, strings.Join(words, "', '"))
	}
	b.WriteString("    }\n")
	b.WriteString("    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })\n")
	b.WriteString("    if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = @($words | Select-Object -SkipLast 1) }\n")
	b.WriteString("    $cmd = $words | Where-Object { $_ -notlike '-*' } | Select-Object -First 1\n")
	b.WriteString("    if ($cmd -and $commands.ContainsKey($cmd)) { $candidates = $commands[$cmd] } else { $candidates = @($commands.Keys) + @('--help', '--version') }\n")
	b.WriteString("    $candidates | Where-Object { $_ -like \"$wordToComplete*\" } | Sort-Object | ForEach-Object {\n")
	b.WriteString("        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)\n    }\n}\n")
	return b.String()
}
