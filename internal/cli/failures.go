package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/urfave/cli/v2"
)

// What a command says of what failed, and of a partial bundle.

// printFailures lists failed containers on stderr, grouped by cause (mirror.Cause): a cause
// that hit one container is one line with the whole message; one that hit several is one line
// naming the cause and how many, then the containers (with their images when refs has them
// and the group is small).
// The largest group comes first.
func printFailures(e *env, failed map[string]error, refs map[string]string) {
	byCause := map[string][]string{}
	for _, k := range sortedKeys(failed) {
		c := mirror.Cause(failed[k])
		byCause[c] = append(byCause[c], k)
	}
	causes := sortedKeys(byCause)
	slices.SortStableFunc(causes, func(a, b string) int { return len(byCause[b]) - len(byCause[a]) })
	for _, c := range causes {
		keys := byCause[c]
		if len(keys) == 1 {
			fmt.Fprintf(e.stderr, "FAILED %s: %v\n", keys[0], withHint(failed[keys[0]]))
			continue
		}
		if h := flagHint(failed[keys[0]]); h != "" {
			c += ": " + h
		}
		named := make([]string, len(keys))
		for i, k := range keys {
			named[i] = k
			if r := refs[k]; r != "" && len(keys) <= maxNamedRefs {
				named[i] += " (" + r + ")"
			}
		}
		fmt.Fprintf(e.stderr, "FAILED %d containers: %s\n%s", len(keys), c, wrapList("    ", named, 100))
	}
}

// maxNamedRefs is the largest group of failures whose images are named beside the containers:
// a cause that hit more (a registry gone, credentials refused) is about the registry, and the
// containers' names say enough.
const maxNamedRefs = 5

// wrapList writes items separated by ", " in lines of about width characters, each line
// starting with indent.
func wrapList(indent string, items []string, width int) string {
	var b strings.Builder
	line := indent
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if len(line) > len(indent) && len(line)+1+len(it) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += it
	}
	b.WriteString(line + "\n")
	return b.String()
}

// imageRefs maps every container of the bundle (and every missing one) to its source image.
func imageRefs(m *archive.Manifest) map[string]string {
	out := map[string]string{}
	for _, im := range m.Images {
		out[im.Key()] = im.Ref()
	}
	for _, ms := range m.Missing {
		out[ms.Key()] = ms.Ref()
	}
	return out
}

// sourceRefs maps every container a create was asked for (the list, --image, the charts'
// blocks) to its source image, for the failures of a run that pulled nothing.
func sourceRefs(list *digests.List, extra []digests.Image, charts []*create.Chart) map[string]string {
	out := map[string]string{}
	all := extra
	if list != nil {
		all = append(slices.Clone(list.Images), extra...)
	}
	for _, ch := range charts {
		all = append(all, ch.Images()...)
	}
	for _, im := range all {
		out[im.Key()] = im.Ref()
	}
	return out
}

// missingSummary is "N containers missing: KEY (REF), ..." for a partial bundle.
func missingSummary(ms []archive.Missing) string {
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.Key() + " (" + m.Ref() + ")"
	}
	return fmt.Sprintf("partial: %d containers missing: %s", len(ms), strings.Join(keys, ", "))
}

// allowPartialFlag accepts a partial bundle where the ConfigMap or Helm values are written.
var allowPartialFlag = &cli.BoolFlag{Name: "allow-partial", Usage: "write the ConfigMap (and Helm values) of a partial bundle (made with bundle create --allow-partial): the containers it lacks are left out, and pull from upstream"}

// partialAllowed refuses, with exit 4 and the list, to write what of a partial bundle needs
// every container (what), unless --allow-partial; done says what was done instead.
func partialAllowed(c *cli.Context, m *archive.Manifest, done, what string) error {
	if len(m.Missing) == 0 || c.Bool("allow-partial") {
		return nil
	}
	return fmt.Errorf("%w: the bundle is %s; %s: carry a complete bundle, or rerun with --allow-partial to write the %s without them (they would pull from upstream)",
		mirror.ErrPartial, missingSummary(m.Missing), done, what)
}

// printPartial says, after a verify that passed, that the bundle is partial, if it is: whole
// and intact, yet without some containers.
func printPartial(e *env, b *archive.Bundle) {
	if ms := b.Manifest().Missing; len(ms) > 0 {
		fmt.Fprintf(e.stdout, "the bundle is %s (made with --allow-partial); unbundle push writes its ConfigMap or Helm values only with --allow-partial\n", missingSummary(ms))
	}
}
