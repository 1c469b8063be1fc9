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

// TestProblemFix: the command names the flags of a preflight problem's mend, which the push
// side leaves out; a fix with nothing to mend by flag is as the push side says.
func TestProblemFix(t *testing.T) {
	for _, c := range []struct {
		p    push.Problem
		want string
	}{
		{push.Problem{Fix: "use an account that may push, or docker login", Mend: push.MendAccount},
			"use an account that may push, or docker login (--username and --password-stdin)"},
		{push.Problem{Fix: "create project ess, or push under an existing project", Mend: push.MendProject, Host: "r.example:5000"},
			"create project ess, or push under an existing project with --registry r.example:5000/PROJECT"},
		{push.Problem{Fix: "shorten it", Mend: push.MendPath}, "shorten it with --registry HOST/GROUP/PROJECT and --path-prefix"},
		{push.Problem{Fix: "see the registry's log"}, "see the registry's log"},
	} {
		if got := problemFix(c.p); got != c.want {
			t.Errorf("mend %d: %q, want %q", c.p.Mend, got, c.want)
		}
	}
	var buf bytes.Buffer
	printProblems(&env{stderr: &buf}, "r", []push.Problem{{Cause: "refused", Fix: "use an account that may push", Mend: push.MendAccount}})
	if !strings.Contains(buf.String(), "fix: use an account that may push (--username and --password-stdin)") {
		t.Errorf("printed %q", buf.String())
	}
}

// TestFlagNotes: the body limit's note names --chunk-size; other notes are as they are.
func TestFlagNotes(t *testing.T) {
	got := flagNotes([]string{push.BodyLimitNote + " (nginx): raise it, or set the chunk size", "serves the OCI referrers API"})
	if len(got) != 2 || !strings.HasSuffix(got[0], "set the chunk size (--chunk-size)") || got[1] != "serves the OCI referrers API" {
		t.Errorf("notes %q", got)
	}
}
