package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

func TestValuesNames(t *testing.T) {
	if got := valuesNames(nil); got != "none (the chart's defaults)" {
		t.Errorf("none: %q", got)
	}
	if got := valuesNames([]archive.File{{Name: "a.yaml"}, {Name: "b.yaml"}}); got != "a.yaml, b.yaml" {
		t.Errorf("two: %q", got)
	}
}

func TestReadValueFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte("x: 1\n"), 0o644)
	got, err := readValueFiles([]string{a, a})
	if err != nil || len(got) != 2 || got[0].Name != a || string(got[1].Data) != "x: 1\n" {
		t.Errorf("%+v, %v", got, err)
	}
	if _, err := readValueFiles([]string{a, filepath.Join(dir, "nope.yaml")}); err == nil || !strings.Contains(err.Error(), "--values") ||
		!strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("a file not there: %v", err)
	}
}

// TestCreateChartDryRun: bundle create --chart --dry-run lists the chart's image blocks, each
// with the image it names, the digest it resolved to and which file set it, and the values
// files applied; the bundle made carries the chart and its blocks.
func TestCreateChartDryRun(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	up := testregistry.StartT(t)
	fc, err := fixture.PushChart(t.Context(), fixture.Options{Registry: up.Host, Size: 256 << 10, Seed: 151, Transport: up.Transport()},
		filepath.Join(t.TempDir(), "chart"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	values := filepath.Join(dir, "site.yaml")
	os.WriteFile(values, []byte("# the site's values\n"), 0o644)
	out := filepath.Join(dir, "c.tar.zst")
	r := runMain("bundle", "", "create", "--chart", fc.Ref, "--values", values, "-o", out, "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stdout", r.stdout, "chart mini-stack "+fc.Version+" ("+fc.Ref+"), digest "+fc.Digest, "values applied: "+values,
		"VALUES PATH", "SET BY", "mini-stack/values.yaml", "plan for "+out)
	if strings.Contains(r.stdout, "(not resolved)") {
		t.Errorf("a block not resolved:\n%s", r.stdout)
	}
	for _, im := range fc.Images {
		if !strings.Contains(r.stdout, im.Digest) {
			t.Errorf("the digest of %s is not in the plan:\n%s", im.Ref(), r.stdout)
		}
	}

	cr := decode[report.Create](t, "create --chart", runMain("bundle", "", "create", "--chart", fc.Ref, "-o", out, "--json"), ExitOK)
	found := false
	for _, im := range cr.Images {
		found = found || im.Container == "mini-stack.chart" && im.Digest == fc.Digest
	}
	if !found || !cr.OK || cr.Totals.Images != len(cr.Images) {
		t.Errorf("report %+v", cr)
	}
	r = runMain("unbundle", "", "list", out)
	mustSay(t, "list", r.stdout, "chart mini-stack "+fc.Version+" from "+fc.Ref, "values applied: none (the chart's defaults)")
}
