package cli

import (
	"fmt"
	"strings"

	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

func checkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check, before pushing, that the local registry takes what the bundle needs",
		ArgsUsage: "NAME.tar.zst",
		Description: `Checks the credentials; that every destination repository takes a push (a Harbor project,
   a Quay organisation, an ECR repository that does not exist; a path GitLab will not take);
   that the registry takes Docker media types, by pushing the smallest such image; whether it
   mounts blobs across repositories, the request body size it takes, and whether it has the
   OCI referrers API. Prints one line per cause with its fix. unbundle push runs the checks
   that decide whether it can succeed before it sends anything else.`,
		Flags: append(append(destinationFlags(), jsonFlag), registryFlags(mirror.DefaultJobs)...),
		Action: func(c *cli.Context) error {
			dest, b, client, err := bundleAndRegistry(c, e)
			if err != nil {
				return err
			}
			defer b.Close()
			res, err := push.Check(c.Context, client, b, push.CheckOptions{Destination: dest, Probe: true, Jobs: c.Int("jobs")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				notes := flagNotes(res.Notes)
				ps := problems(res.Problems)
				if ps == nil {
					ps = []report.Problem{}
				}
				if err := writeJSON(e.stdout, report.Check{SchemaVersion: report.SchemaVersion, Command: "check", Registry: c.String("registry"),
					OK: len(ps) == 0, Notes: notes, Problems: ps}); err != nil {
					return err
				}
				if len(ps) > 0 {
					printProblems(e, dest.Host, res.Problems)
					return fmt.Errorf("%w: %d cause(s)", mirror.ErrRefused, len(ps))
				}
				return nil
			}
			for _, n := range flagNotes(res.Notes) {
				fmt.Fprintf(e.stdout, "%s %s\n", dest.Host, n)
			}
			if len(res.Problems) > 0 {
				printProblems(e, dest.Host, res.Problems)
				return fmt.Errorf("%w: %d cause(s)", mirror.ErrRefused, len(res.Problems))
			}
			fmt.Fprintf(e.stdout, "%s takes every repository of %s\n", dest.Host, strings.Join(c.Args().Slice(), " "))
			return nil
		},
	}
}

// printProblems prints one line per cause, its fix and the repositories it blocks.
func printProblems(e *env, host string, problems []push.Problem) {
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "REFUSED %s\n  fix: %s\n", p.Cause, problemFix(p))
		if n := len(p.Repos); n > 0 {
			shown := p.Repos[:min(n, 5)]
			more := ""
			if n > len(shown) {
				more = fmt.Sprintf(" and %d more", n-len(shown))
			}
			fmt.Fprintf(e.stderr, "  blocks %d repositories: %s%s\n", n, strings.Join(shown, ", "), more)
		}
	}
}

// problemFix is a preflight problem's fix with the flags that make it, which the push side
// leaves to the command.
func problemFix(p push.Problem) string {
	switch p.Mend {
	case push.MendAccount:
		return p.Fix + " (--username and --password-stdin)"
	case push.MendProject:
		return p.Fix + " with --registry " + p.Host + "/PROJECT"
	case push.MendPath:
		return p.Fix + " with --registry HOST/GROUP/PROJECT and --path-prefix"
	}
	return p.Fix
}

// flagNotes are the preflight's notes, the body limit's naming --chunk-size.
func flagNotes(notes []string) []string {
	out := make([]string, 0, len(notes))
	for _, n := range notes {
		if strings.HasPrefix(n, push.BodyLimitNote) {
			n += " (--chunk-size)"
		}
		out = append(out, n)
	}
	return out
}
