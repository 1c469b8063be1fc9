package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/urfave/cli/v2"
)

// pushContext is push's command line with args given, for the functions that read its flags.
func pushContext(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	for _, f := range append(helmFlags(), configMapFlags()...) {
		if err := f.Apply(fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	c := cli.NewContext(&cli.App{}, fs, nil)
	c.Command = &cli.Command{Name: "push"}
	return c
}

// TestPlanHelm: push's Helm flags are checked against the bundle before anything is pushed:
// what needs --helm-values, what goes with a chart bundle or a list bundle only, and two
// documents on standard output, are usage errors naming the flags and what to do.
func TestPlanHelm(t *testing.T) {
	list := &archive.Manifest{Images: []archive.Image{{Entry: imageref.Entry{Component: "synapse", Container: "synapse"}}}}
	one := &archive.Manifest{Chart: &archive.Chart{Name: "matrix-stack"},
		Images: []archive.Image{{Entry: imageref.Entry{Component: "matrix-stack", Container: "chart"}, Kind: archive.KindChart}, {Entry: imageref.Entry{Component: "matrix-stack", Container: "synapse.image"}, ValuesPath: "synapse.image"}}}
	two := &archive.Manifest{Charts: []archive.Chart{{Name: "a"}, {Name: "b"}}}
	dir := t.TempDir()
	hm := filepath.Join(dir, "map.yaml")
	os.WriteFile(hm, []byte("extra.tool: tools.image\nsynapse.haproxy: null\n"), 0o644)
	badMap := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badMap, []byte("synapse.synapse: [not, a, path]\n"), 0o644)
	for _, tc := range []struct {
		name  string
		m     *archive.Manifest
		args  []string
		usage string // a usage error saying this; "" for none
		fails bool   // another error
	}{
		{"nothing asked", list, nil, "", false},
		{"a map without values", list, []string{"--helm-map", hm}, "push: --helm-map needs --helm-values", false},
		{"a secret without values", one, []string{"--pull-secret", "s"}, "push: --pull-secret needs --helm-values", false},
		{"values files without values", one, []string{"--values", "v.yaml"}, "push: --values needs --helm-values", false},
		{"two documents on standard output", list, []string{"--helm-values", "-"}, "--helm-values and --configmap cannot both be standard output", false},
		{"values on standard output, the ConfigMap to a file", list, []string{"--helm-values", "-", "--configmap", "cm.yaml"}, "", false},
		{"a chart's values on standard output", one, []string{"--helm-values", "-"}, "", false},
		{"a map for a chart", one, []string{"--helm-values", "v.yaml", "--helm-map", hm}, "--helm-map is for bundles of an image list; this bundle carries chart matrix-stack", false},
		{"two charts to standard output", two, []string{"--helm-values", "-"}, "this bundle carries 2 charts", false},
		{"two charts and values", two, []string{"--helm-values", "v.yaml", "--values", "x.yaml"}, "unbundle check-values --chart NAME", false},
		{"two charts", two, []string{"--helm-values", "v.yaml"}, "", false},
		{"a secret for a list", list, []string{"--helm-values", "v.yaml", "--pull-secret", "s"}, "--pull-secret and --values apply to bundles made with --chart", false},
		{"a map not there", list, []string{"--helm-values", "v.yaml", "--helm-map", filepath.Join(dir, "nope.yaml")}, "", true},
		{"a map that is not one", list, []string{"--helm-values", "v.yaml", "--helm-map", badMap}, "", true},
		{"a map", list, []string{"--helm-values", "v.yaml", "--helm-map", hm}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planHelm(pushContext(t, tc.args...), tc.m)
			var ue *usageError
			switch {
			case tc.usage != "":
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.usage) {
					t.Errorf("err = %v, want a usage error saying %q", err, tc.usage)
				}
			case tc.fails:
				if err == nil || errors.As(err, &ue) {
					t.Errorf("err = %v", err)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case len(tc.args) == 0 && p != nil:
				t.Errorf("a plan without --helm-values: %+v", p)
			}
		})
	}

	p, err := planHelm(pushContext(t, "--helm-values", "v.yaml", "--helm-map", hm), list)
	if err != nil {
		t.Fatal(err)
	}
	def := digests.DefaultHelmMap()
	if p.m["extra.tool"] != "tools.image" || p.m["synapse.synapse"] != def["synapse.synapse"] || p.m["synapse.haproxy"] != "" {
		t.Errorf("merged map: %v", p.m)
	}
	p, err = planHelm(pushContext(t, "--helm-values", "out/local-values.yaml"), two)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.valuesFile(&two.Charts[1]); got != "out/local-values.b.yaml" {
		t.Errorf("the values file of chart b: %q", got)
	}
	p, _ = planHelm(pushContext(t, "--helm-values", "local-values.yaml"), one)
	if got := p.valuesFile(one.Chart); got != "local-values.yaml" {
		t.Errorf("the values file of the only chart: %q", got)
	}
}

// TestContainers: the entries of the image list, not the chart nor its blocks.
func TestContainers(t *testing.T) {
	m := &archive.Manifest{Images: []archive.Image{
		{Entry: imageref.Entry{Component: "a", Container: "b"}},
		{Entry: imageref.Entry{Component: "s", Container: "chart"}, Kind: archive.KindChart},
		{Entry: imageref.Entry{Component: "s", Container: "x.image"}, ValuesPath: "x.image"},
	}}
	got := containers(m)
	if len(got) != 1 || !got["a.b"] {
		t.Errorf("containers %v", got)
	}
}
