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
				notes := append([]string{}, res.Notes...)
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
			for _, n := range res.Notes {
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
		fmt.Fprintf(e.stderr, "REFUSED %s\n  fix: %s\n", p.Cause, p.Fix)
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
