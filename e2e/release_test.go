package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestReleaseUpgradeDelta: ESS 23.10 then 24.08, generated with shared layers. A delta for
// 24.08 made against the 23.10 bundle, or against an inventory of the registry that holds
// 23.10, carries a fraction of the full bytes and pushes to the right digests.
func TestReleaseUpgradeDelta(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	up := testregistry.StartT(t)
	lists := map[string][]digests.Image{}
	for _, rel := range []string{"ess-2310", "ess-2408"} {
		imgs, err := generate(up.Host, 30<<20, 7, rel)
		if err != nil {
			t.Fatal(err)
		}
		lists[rel] = imgs
		yml, _ := digests.Marshal(imgs)
		os.WriteFile(filepath.Join(dir, rel+".yml"), yml, 0o644)
	}
	file := func(n string) string { return filepath.Join(dir, n) }
	must(t, runCmd("bundle", nil, "create", "--images", file("ess-2310.yml"), "--output", file("2310.tar.zst")))
	must(t, runCmd("bundle", nil, "create", "--images", file("ess-2408.yml"), "--output", file("2408-full.tar.zst")))
	must(t, runCmd("bundle", nil, "create", "--since", file("2310.tar.zst"), "--images", file("ess-2408.yml"), "--output", file("2408-delta.tar.zst")))
	full, delta := fileSize(t, file("2408-full.tar.zst")), fileSize(t, file("2408-delta.tar.zst"))
	t.Logf("24.08: full bundle %d bytes, delta against 23.10 %d bytes (%.1f %%)", full, delta, 100*float64(delta)/float64(full))
	if delta*2 > full {
		t.Fatalf("the delta (%d) is not much smaller than the full bundle (%d)", delta, full)
	}

	reg := testregistry.StartT(t)
	must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", file("cm-2310.yaml"), file("2310.tar.zst")))
	must(t, runCmd("unbundle", nil, "inventory", "--registry", reg.Host, "--output", file("inventory.json"), file("ess-2310.yml")))
	must(t, runCmd("bundle", nil, "create", "--since", file("inventory.json"), "--images", file("ess-2408.yml"), "--output", file("2408-inv.tar.zst")))
	t.Logf("delta against the inventory: %d bytes", fileSize(t, file("2408-inv.tar.zst")))
	if fileSize(t, file("2408-inv.tar.zst"))*2 > full {
		t.Fatal("the delta against the inventory is not much smaller than the full bundle")
	}
	for _, b := range []string{"2408-delta.tar.zst", "2408-inv.tar.zst"} {
		must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", file("cm-2408.yaml"), file(b)))
		checkConfigMap(t, b, file("cm-2408.yaml"), lists["ess-2408"])
	}
}

// checkConfigMap fails the test unless the ConfigMap file (written by pushing bundle) has
// every container of images, each at its upstream digest.
func checkConfigMap(t *testing.T, bundle, file string, images []digests.Image) {
	t.Helper()
	data, _ := os.ReadFile(file)
	got, err := digests.ParseConfigMap(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, im := range images {
		want[im.Key()] = im.Digest
	}
	if len(got) != len(want) {
		t.Fatalf("%s: ConfigMap has %d of %d containers", bundle, len(got), len(want))
	}
	for _, im := range got {
		if im.Digest != want[im.Key()] {
			t.Errorf("%s: %s: %s, upstream %s", bundle, im.Key(), im.Digest, want[im.Key()])
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestSinceUnchangedList: the same list made again with --since the first bundle reads every
// manifest and config from that bundle, so the upstream is asked for nothing (its digests are
// pinned), and the delta still pushes, on top of the first, to the upstream's digests.
func TestSinceUnchangedList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	up := testregistry.StartT(t)
	imgs, err := generate(up.Host, 8<<20, 11, "")
	if err != nil {
		t.Fatal(err)
	}
	yml, _ := digests.Marshal(imgs)
	file := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(file("list.yml"), yml, 0o644)
	must(t, runCmd("bundle", nil, "create", "--images", file("list.yml"), "--output", file("first.tar.zst")))
	before := up.Requests()
	must(t, runCmd("bundle", nil, "create", "--since", file("first.tar.zst"), "--images", file("list.yml"), "--output", file("again.tar.zst")))
	if n := up.Requests() - before; n != 0 {
		t.Errorf("the rerun with --since asked the upstream %d times, want 0", n)
	}
	reg := testregistry.StartT(t)
	for _, b := range []string{"first.tar.zst", "again.tar.zst"} {
		must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", file("cm.yaml"), file(b)))
	}
	checkConfigMap(t, "again.tar.zst", file("cm.yaml"), imgs)
}
