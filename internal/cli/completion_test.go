package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script returns `PROG completion SHELL`.
func script(t *testing.T, prog, shell string) string {
	t.Helper()
	r := runMain(prog, "", "completion", shell)
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("%s completion %s: exit %d\n%s", prog, shell, r.code, r.stderr)
	}
	return r.stdout
}

// bashComplete runs the bash completion of prog on the words typed (the last one being
// completed) and returns what it offers.
func bashComplete(t *testing.T, file, prog string, words ...string) []string {
	t.Helper()
	line := prog + " " + strings.Join(words, " ")
	cmd := exec.Command("bash", "-c", `source "$1"; COMP_WORDS=($2); [[ "$2" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _`+prog+`_complete; printf '%s\n' "${COMPREPLY[@]}"`,
		"bash", file, line)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
	}
	return strings.Fields(string(out))
}

// TestCompletion: each shell's script of each program is valid for that shell (bash -n,
// zsh -n, fish --no-execute) and names every command and every flag; the bash script, run,
// completes commands, a command's flags, --log-format's values and completion's shells.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(sh); err != nil {
			t.Fatalf("%s is not installed (make tools installs it)", sh)
		}
	}
	dir := t.TempDir()
	for _, prog := range []string{"bundle", "unbundle"} {
		app, _ := newApp(prog, &env{log: &logger{}})
		cmds := commandsOf(app)
		for _, shell := range shells {
			s := script(t, prog, shell)
			file := filepath.Join(dir, prog+"."+shell)
			os.WriteFile(file, []byte(s), 0o644)
			for _, c := range cmds {
				if !strings.Contains(s, c.name) {
					t.Errorf("%s %s: no command %s", prog, shell, c.name)
				}
				for _, f := range c.flags {
					for _, n := range f.names {
						if shell == "fish" { // -l images, -s o
							n = strings.TrimLeft(n, "-")
						}
						if !strings.Contains(s, n) {
							t.Errorf("%s %s: no flag %s of %s", prog, shell, n, c.name)
						}
					}
				}
			}
			var check *exec.Cmd
			switch shell {
			case "bash":
				check = exec.Command("bash", "-n", file)
			case "zsh":
				check = exec.Command("zsh", "-n", file)
			case "fish":
				check = exec.Command("fish", "--no-execute", file)
			}
			if check != nil {
				if out, err := check.CombinedOutput(); err != nil {
					t.Errorf("%s %s: %v\n%s", prog, shell, err, out)
				}
			}
		}
	}
	if r := runMain("bundle", "", "completion", "tcsh"); r.code != ExitUsage || !strings.Contains(r.stderr, "tcsh") {
		t.Errorf("completion tcsh: exit %d: %s", r.code, r.stderr)
	}

	b, u := filepath.Join(dir, "bundle.bash"), filepath.Join(dir, "unbundle.bash")
	for _, tc := range []struct {
		file, prog string
		words      []string
		want       []string
	}{
		{b, "bundle", []string{"cr"}, []string{"create"}},
		{b, "bundle", []string{"v"}, []string{"verify", "version"}},
		{u, "unbundle", []string{"p"}, []string{"push"}},
		{b, "bundle", []string{"create", "--ima"}, []string{"--images", "--image"}}, // --image: an extra image
		{u, "unbundle", []string{"push", "--regis"}, []string{"--registry"}},
		{u, "unbundle", []string{"push", "x.tar.zst", "--log-format", ""}, []string{"text", "json"}},
		{b, "bundle", []string{"completion", "z"}, []string{"zsh"}},
		{b, "bundle", []string{"create", "--registry"}, nil}, // push's flag, not create's
	} {
		got := bashComplete(t, tc.file, tc.prog, tc.words...)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s %v: offered %v, want %v", tc.prog, tc.words, got, tc.want)
		}
	}
}

// TestMan: each program's man page has a header, the exit codes, every command and every flag
// of each (--help aside: every command has it).
func TestMan(t *testing.T) {
	for _, prog := range []string{"bundle", "unbundle"} {
		page, err := Man(prog)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(page, ".nh\n.TH "+prog+" 1") || !strings.Contains(page, "EXIT CODES") {
			t.Errorf("%s.1: header or exit codes missing:\n%.300s", prog, page)
		}
		app, _ := newApp(prog, &env{log: &logger{}})
		for _, c := range commandsOf(app) {
			if !strings.Contains(page, ".SH "+c.name+"\n") {
				t.Errorf("%s.1: no section for %s", prog, c.name)
			}
			for _, f := range c.flags {
				for _, n := range f.names {
					if strings.HasPrefix(n, "--") && n != "--help" && !strings.Contains(page, `\fB`+n+`\fP`) && !strings.Contains(page, `\fB`+n+`, `) {
						t.Errorf("%s.1: no flag %s (of %s)", prog, n, c.name)
					}
				}
			}
		}
	}
}
