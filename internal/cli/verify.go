package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/inspect"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/urfave/cli/v2"
)

// verifyCommand is `verify NAME.tar.zst`, shared by both programs.
func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the bundle: its .sha256 (or every part's), every blob's digest and size, the layout and the manifest",
		ArgsUsage: bundleArgsUsage,
		Description: `A bundle in parts is read in place: name its first part, NAME.tar.zst, the directory, a
   glob, or the directories of several media. Every part missing or damaged is named, and
   whether the parity parts can rebuild it (unbundle repair). With --public-key the signature
   is checked first, and who signed it, and when, is printed. With --policy (or the policy the
   bundle carries, once --public-key checked its signature) every image's signatures are then
   checked offline against it, from what the bundle carries.`,
		Flags:  append([]cli.Flag{publicKeyFlag, jsonFlag}, provenanceFlags("verify")...),
		Action: func(c *cli.Context) error { return runVerify(c, e) },
	}
}

// runVerify finds the bundle, verifies it (inspect.Verify), prints what is bad, then checks
// its provenance and prints the outcome; with --json the report goes to stdout whatever the
// outcome, and the text to stderr.
func runVerify(c *cli.Context, e *env) (err error) {
	args, err := bundleArgs(c)
	if err != nil {
		return err
	}
	start := time.Now()
	v := &inspect.Verified{}
	if c.Bool("json") {
		out := e.stdout
		e = &env{stdin: e.stdin, stdout: e.stderr, stderr: e.stderr, log: e.log, args: e.args}
		defer func() {
			if jerr := writeJSON(out, verifyReport(strings.Join(args, " "), v.Result, v.Users, start, err)); jerr != nil && err == nil {
				err = jerr
			}
		}()
	}
	s, err := findBundle(c, e, args...)
	if err != nil {
		return err
	}
	err = withProgress(e, "verify", func(m *progress.Meter) error {
		found, err := inspect.Verify(c.Context, s, m)
		v = found
		return err
	})
	if v.Result != nil {
		for _, bad := range v.Result.Bad {
			fmt.Fprintf(e.stderr, "BAD %s%s: %v\n", bad.Name, usedBy(v.Users, bad.Digest), bad.Err)
		}
	}
	printBadParts(e, v.BadParts)
	if err != nil {
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	b, err := trust.OpenSet(s) // once, for the provenance check and the partial notice
	if err != nil {
		return err
	}
	defer b.Close()
	if err := bundleProvenance(c, e, b); err != nil {
		return err
	}
	defer printPartial(e, b)
	printVerified(e, s, v.Result, took)
	return nil
}

// printVerified is verify's summary of a bundle that passed: what was checked, and who made it.
func printVerified(e *env, s *trust.Set, res *archive.Result, took time.Duration) {
	switch {
	case !s.Split():
		fmt.Fprintf(e.stdout, "%s: OK (sha256 %s, checksum file %s) in %s\n", s.Whole, res.SHA256, res.Checksum, took)
	case s.Sums == nil:
		fmt.Fprintf(e.stdout, "%s: OK, %d parts (no checksum file: the parts themselves are not checked) in %s\n", s.Name, len(res.Parts), took)
	default:
		fmt.Fprintf(e.stdout, "%s: OK, %s, every part matching %s.sha256 (sha256 of the joined bundle %s) in %s\n",
			s.Name, partsSummary(s.Sums), s.Name, res.SHA256, took)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", s.Name, signatureSummary(s))
}

// signatureSummary is verify's last word on who made the bundle.
func signatureSummary(s *trust.Set) string {
	switch {
	case s.Signature != nil:
		return trustLine(s) + "; signature checked"
	case s.Unchecked != nil:
		return "SIGNATURE NOT CHECKED: " + trustLine(s)
	}
	return fmt.Sprintf("not signed (no %s.sha256.sig beside it): nothing says who made it", s.Name)
}

// usedBy names the containers that use the blob digest, for the line of an entry found bad.
func usedBy(users map[string][]string, digest string) string {
	if len(users[digest]) == 0 {
		return ""
	}
	return " (used by " + strings.Join(users[digest], ", ") + ")"
}
