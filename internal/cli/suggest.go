package cli

import (
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

var undefinedFlag = regexp.MustCompile(`flag provided but not defined: -+([^\s]+)`)

// didYouMean adds to a usage error about a flag that does not exist the command's flag it most
// likely meant: one with a name at most two edits away (--registy: --registry), or that starts
// with it. It returns msg unchanged when there is none.
func didYouMean(c *cli.Context, msg string) string {
	m := undefinedFlag.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	typed := strings.SplitN(m[1], "=", 2)[0]
	var flags []cli.Flag
	if c != nil && c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	} else if c != nil && c.App != nil {
		flags = c.App.Flags
	}
	best, bestDist := "", 3
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) < 2 {
				continue
			}
			d := editDistance(typed, n)
			if strings.HasPrefix(n, typed) && len(typed) >= 3 {
				d = min(d, 1)
			}
			if d < bestDist {
				best, bestDist = n, d
			}
		}
	}
	if best == "" {
		return msg
	}
	return msg + " (did you mean --" + best + "?)"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
