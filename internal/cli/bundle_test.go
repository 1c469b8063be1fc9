package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
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

// TestCreatePartialNamesFlag: a bundle written without the images that failed (exit 5 here: a
// repository that is not there) ends with an error that says so and names --allow-partial, the
// flag that made it (create says what was left out; the command names its flag).
func TestCreatePartialNamesFlag(t *testing.T) {
	w := newWorld(t, 104)
	broken := append([]digests.Image{}, w.images...)
	broken[2].Path += "-gone"
	out := filepath.Join(w.dir, "p.tar.zst")
	r := runMain("bundle", "", "create", "--images", w.writeList(t, "broken.yml", broken), "-o", out, "--allow-partial")
	if r.code != ExitRefused {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, "1 of 3 containers left out of the bundle", "(--allow-partial)")
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no bundle written: %v", err)
	}
}
