package cli

import (
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/version"
)

// TestVersion: version and --version print the same line, naming the program; an argument is
// a usage error.
func TestVersion(t *testing.T) {
	for _, prog := range []string{"bundle", "unbundle"} {
		want := prog + " " + version.Get().String() + "\n"
		for _, args := range [][]string{{"version"}, {"--version"}} {
			r := runMain(prog, "", args...)
			if r.code != ExitOK || r.stdout != want || r.stderr != "" {
				t.Errorf("%s %v: exit %d, %q, %q; want %q", prog, args, r.code, r.stdout, r.stderr, want)
			}
		}
		r := runMain(prog, "", "version", "extra")
		if r.code != ExitUsage || !strings.Contains(r.stderr, `version: unexpected argument "extra"`) {
			t.Errorf("%s version extra: exit %d: %s", prog, r.code, r.stderr)
		}
	}
}

// TestNoCommand: a program run without a command prints its help, with the exit codes; an
// unknown program is refused.
func TestNoCommand(t *testing.T) {
	r := runMain("bundle", "")
	if r.code != ExitOK || !strings.Contains(r.stdout, "EXIT CODES") || !strings.Contains(r.stdout, "create") {
		t.Errorf("bundle: exit %d\n%s", r.code, r.stdout)
	}
	r = runMain("rebundle", "", "version")
	if r.code != ExitError || !strings.Contains(r.stderr, `unknown program "rebundle"`) {
		t.Errorf("an unknown program: exit %d: %s", r.code, r.stderr)
	}
}
