package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/push"
)

// TestPrintProblems: one line per cause with its fix, then the repositories it blocks, five
// at most and how many more.
func TestPrintProblems(t *testing.T) {
	var buf bytes.Buffer
	printProblems(&env{stderr: &buf}, "r:5000", nil)
	if buf.Len() != 0 {
		t.Errorf("no problems: %q", buf.String())
	}
	printProblems(&env{stderr: &buf}, "r:5000", []push.Problem{
		{Cause: "Harbor project ess does not exist", Fix: "create it", Repos: []string{"ess/a", "ess/b", "ess/c", "ess/d", "ess/e", "ess/f", "ess/g"}},
		{Cause: "the registry refuses Docker media types", Fix: "use another registry"},
	})
	want := "REFUSED Harbor project ess does not exist\n  fix: create it\n  blocks 7 repositories: ess/a, ess/b, ess/c, ess/d, ess/e and 2 more\n" +
		"REFUSED the registry refuses Docker media types\n  fix: use another registry\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestCheckUsage: check and check-values say what they need.
func TestCheckUsage(t *testing.T) {
	b := filepath.Join(t.TempDir(), "x.tar.zst")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"check", b}, "check: --registry is required"},
		{[]string{"check", "--registry", "r"}, "check: missing bundle argument"},
		{[]string{"check-values", "--registry", "r", b}, "check-values: --helm-values is required"},
		{[]string{"check-values", "--helm-values", "v.yaml", "--registry", "r"}, "check-values: missing bundle argument"},
	} {
		r := runMain("unbundle", "", tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
	}
}
