package cli

import (
	"path/filepath"
	"testing"
)

// TestCreateChartRefNamesFlag: an oci:// chart reference that is not HOST/PATH/NAME:VERSION
// fails before any request, naming --chart, the reference and the form wanted (the layer
// below says what is wrong with the reference; the command names its flag).
func TestCreateChartRefNamesFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	for _, ref := range []string{"oci://registry.test/charts/stack", "oci://stack:1.0"} {
		r := runMain("bundle", "", "create", "--chart", ref, "-o", out)
		if r.code != ExitError {
			t.Errorf("%s: exit %d, want %d: %s", ref, r.code, ExitError, r.stderr)
		}
		mustSay(t, "stderr", r.stderr, `--chart "`+ref+`": want oci://HOST/PATH/NAME:VERSION`)
	}
}
