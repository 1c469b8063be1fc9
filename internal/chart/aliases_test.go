package chart

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
)

// aliasBomb is a YAML mapping of 9 anchors, each a list of 9 aliases of the one before:
// 9^8 = 43 million nodes once expanded, some 400 bytes as written (issue 19's values.yaml).
func aliasBomb(key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n", key)
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 9), ",")
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, refs)
	}
	return b.String()
}

// TestAliasBombs: a values file, a chart's own values.yaml or its Chart.yaml whose aliases
// expand past yamlcheck.MaxAliasNodes is refused, naming the file, before anything expands
// it (issue 19: 8 levels ran bundle create --chart --dry-run past 90 s and GBs).
func TestAliasBombs(t *testing.T) {
	c := loadTest(t)
	_, err := Images(c, ValuesFile{Name: "ops.yaml", Data: []byte(aliasBomb("synapse"))})
	if !errors.Is(err, ErrInvalidValues) || !errors.Is(err, yamlcheck.ErrAliases) || !strings.HasPrefix(err.Error(), "ops.yaml: ") {
		t.Errorf("--values: %v", err)
	}
	own, err := Read(tgz(t, map[string]string{
		"bomb/Chart.yaml":  "apiVersion: v2\nname: bomb\nversion: 1.0.0\n",
		"bomb/values.yaml": aliasBomb("synapse"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Images(own); !errors.Is(err, yamlcheck.ErrAliases) || !strings.HasPrefix(err.Error(), "bomb/values.yaml: ") {
		t.Errorf("the chart's values.yaml: %v", err)
	}
	_, err = Read(tgz(t, map[string]string{"bomb/Chart.yaml": "apiVersion: v2\nname: bomb\nversion: 1.0.0\n" + aliasBomb("annotations")}))
	if !errors.Is(err, ErrInvalidChart) || !errors.Is(err, yamlcheck.ErrAliases) || !strings.Contains(err.Error(), "bomb/Chart.yaml") {
		t.Errorf("Chart.yaml: %v", err)
	}
}
