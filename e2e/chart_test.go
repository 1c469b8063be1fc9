package e2e

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// chartWorld is the test chart (internal/fixture/testdata/mini-stack, the shapes of
// matrix-stack) served upstream as an OCI chart with its images, and one bundle of it.
type chartWorld struct {
	dir      string
	upstream *testregistry.Registry
	chart    *fixture.Chart
	bundle   string
}

var (
	sharedChart     *chartWorld
	sharedChartErr  error
	sharedChartOnce sync.Once
)

func setupChart(t *testing.T) *chartWorld {
	t.Helper()
	sharedChartOnce.Do(func() {
		sharedChart, sharedChartErr = newChartWorld()
		if sharedChart != nil {
			addCleanup(func() { sharedChart.upstream.Close(); os.RemoveAll(sharedChart.dir) })
		}
	})
	if sharedChartErr != nil {
		t.Fatalf("chart setup: %v", sharedChartErr)
	}
	return sharedChart
}

func newChartWorld() (*chartWorld, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "e2e-chart-")
	if err != nil {
		return nil, err
	}
	w := &chartWorld{dir: dir}
	if w.upstream, err = testregistry.Start(ctx, filepath.Join(dir, "upstream")); err != nil {
		return nil, err
	}
	w.chart, err = fixture.PushChart(ctx, fixture.Options{Registry: w.upstream.Host, Size: 16 << 20, Seed: 2608}, filepath.Join(dir, "mini-stack"))
	if err != nil {
		return nil, err
	}
	w.bundle = filepath.Join(dir, "chart.tar.zst")
	if r := runCmd("bundle", nil, "create", "--chart", w.chart.Ref, "--output", w.bundle); r.code != 0 {
		return nil, &cmdError{r}
	}
	return w, nil
}

// allEnabled is the chart's ci/all-enabled-values.yaml: every component on.
func (w *chartWorld) allEnabled() string {
	return filepath.Join(w.chart.Dir, "ci", "all-enabled-values.yaml")
}

// TestChartBundle: the chart is carried byte-identical with every image of its blocks, the
// disabled component's and the pinned one's included, each by the digest upstream serves.
func TestChartBundle(t *testing.T) {
	t.Parallel()
	w := setupChart(t)
	m := mustOpenManifest(t, w.bundle)
	if m.Chart == nil || m.Chart.Digest != w.chart.Digest || m.Chart.Name != "mini-stack" || m.Chart.Version != "0.3.0" {
		t.Fatalf("chart record %+v, want digest %s", m.Chart, w.chart.Digest)
	}
	byPath := map[string]archive.Image{}
	for _, im := range m.Images {
		if im.Kind == archive.KindChart {
			if im.Digest != w.chart.Digest || im.Path != "charts/mini-stack" || im.Tag != "0.3.0" {
				t.Errorf("chart entry %+v", im)
			}
			continue
		}
		byPath[im.ValuesPath] = im
	}
	want := []string{"hookshot.image", "matrixTools.image", "postgres.image", "synapse.image", "synapse.redis.exporter.image", "synapse.redis.image"}
	if got := slices.Sorted(maps.Keys(byPath)); !slices.Equal(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	for _, up := range w.chart.Images {
		path := strings.ReplaceAll(up.Container, "_", ".")
		if im := byPath[path]; im.Digest != up.Digest || im.Path != up.Path || im.Key() != "mini-stack."+path {
			t.Errorf("%s: bundle has %s %s@%s, upstream %s@%s", path, im.Key(), im.Path, im.Digest, up.Path, up.Digest)
		}
	}
	if pg := byPath["postgres.image"]; pg.ListedDigest == "" || pg.ListedDigest != pg.Digest {
		t.Errorf("the pinned block: listed %q, carried %q", pg.ListedDigest, pg.Digest)
	}

	// list and verify, on both sides.
	r := must(t, runCmd("unbundle", nil, "list", w.bundle))
	if !strings.Contains(r.stdout, "chart mini-stack 0.3.0") || !strings.Contains(r.stdout, "mini-stack.hookshot.image") {
		t.Errorf("list:\n%s", r.stdout)
	}
	must(t, runCmd("unbundle", nil, "verify", w.bundle))

	// --dry-run lists the chart's images and which file set what.
	ops := filepath.Join(t.TempDir(), "ops.yaml")
	os.WriteFile(ops, []byte("hookshot:\n  enabled: true\n  image:\n    tag: v-ops\n"), 0o644)
	r = runCmd("bundle", nil, "create", "--chart", w.chart.Ref, "--values", ops, "--dry-run", "--output", filepath.Join(t.TempDir(), "x.tar.zst"))
	if r.code != cli.ExitRefused || !regexp.MustCompile(`hookshot\.image\s+\S+/matrix-org/matrix-hookshot:v-ops\s+\(not resolved\)\s+registry mini-stack/values\.yaml:\d+, repository mini-stack/values\.yaml:\d+, tag `+regexp.QuoteMeta(ops)+`:4`).MatchString(r.stdout) ||
		!regexp.MustCompile(`synapse\.image\s+\S+/element-hq/synapse:v1\.159\.0\s+sha256:[0-9a-f]{64}`).MatchString(r.stdout) ||
		!strings.Contains(r.stderr, "FAILED mini-stack.hookshot.image") {
		t.Errorf("dry run with a tag upstream lacks: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// helmEnv isolates helm's configuration (registry logins) in dir.
func helmEnv(dir string) []string {
	return []string{"HELM_REGISTRY_CONFIG=" + filepath.Join(dir, "registry.json"), "HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"), "HELM_DATA_HOME=" + filepath.Join(dir, "data")}
}

// TestChartEndToEnd: bundle -> push (chart and images, the values file, the render check) ->
// helm pull from the local registry gives the chart's digest -> rendering the pulled chart with
// every component enabled gives only LOCAL/PREFIX/...@digest images, each served by the
// registry. The check fails, naming the image, when one image is not from the registry.
func TestChartEndToEnd(t *testing.T) {
	t.Parallel()
	w := setupChart(t)
	helm := tool(t, "helm")
	reg := secureRegistry(t)
	dir := t.TempDir()
	values := filepath.Join(dir, "local-values.yaml")
	r := must(t, runRaced("unbundle", []byte(reg.Password+"\n"), "push", "--registry", reg.Host+"/ess", "--ca-file", reg.CAFile,
		"--username", reg.Username, "--password-stdin", "--helm-values", values, "--pull-secret", "local-registry",
		"--values", w.allEnabled(), "--helm", helm, w.bundle))
	for _, s := range []string{"the 6 image blocks of chart mini-stack 0.3.0", "chart pushed: oci://" + reg.Host + "/ess/charts/mini-stack --version 0.3.0 (digest " + w.chart.Digest,
		"render check: chart mini-stack 0.3.0 with the operator's --values", "runs 8 containers, 6 images, every one from the local registry by digest"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("push does not say %q:\n%s", s, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "ConfigMap") {
		t.Errorf("a ConfigMap for a chart-only bundle:\n%s", r.stdout)
	}

	// helm pulls the chart from the local registry: the same manifest and content digests.
	hdir := t.TempDir()
	env := helmEnv(hdir)
	login := exec.Command(helm, "registry", "login", reg.Host, "--username", reg.Username, "--password-stdin", "--ca-file", reg.CAFile)
	login.Env, login.Stdin = append(os.Environ(), env...), stringReader(reg.Password+"\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("helm registry login: %v\n%s", err, out)
	}
	out := run(t, hdir, env, helm, "pull", "oci://"+reg.Host+"/ess/charts/mini-stack", "--version", "0.3.0", "--ca-file", reg.CAFile, "-d", hdir)
	if !strings.Contains(out, "Digest: "+w.chart.Digest) {
		t.Errorf("helm pull: want digest %s:\n%s", w.chart.Digest, out)
	}
	tgz, err := os.ReadFile(filepath.Join(hdir, "mini-stack-0.3.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	up, err := chart.Load(w.chart.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if verify.Digest(tgz) != verify.Digest(up.Archive) {
		t.Errorf("helm pulled a .tgz of %s, upstream's is %s", verify.Digest(tgz), verify.Digest(up.Archive))
	}

	// The pulled chart, every component enabled, the written values on top: every image is
	// REG/ess/...@sha256 and the registry serves it.
	rendered := run(t, hdir, env, helm, "template", "ess", filepath.Join(hdir, "mini-stack-0.3.0.tgz"), "-f", w.allEnabled(), "-f", values)
	uses, err := chart.Uses([]byte(rendered))
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 8 {
		t.Errorf("%d containers rendered, want 8", len(uses))
	}
	local := regexp.MustCompile(`^` + regexp.QuoteMeta(reg.Host) + `/ess/([a-z0-9/._-]+)@(sha256:[0-9a-f]{64})$`)
	for _, u := range uses {
		m := local.FindStringSubmatch(u.Image)
		if m == nil {
			t.Errorf("%s runs %s, not from %s/ess by digest", u, u.Image, reg.Host)
			continue
		}
		if served := headDigest(t, reg, reg.Host+"/ess/"+m[1]+"@"+m[2]); served != m[2] {
			t.Errorf("%s: registry serves %s for %s", u, served, u.Image)
		}
	}
	if !strings.Contains(rendered, "imagePullSecrets:\n      - name: local-registry") {
		t.Errorf("--pull-secret not rendered:\n%s", rendered)
	}

	// The check on its own, from the registry's chart and from the bundle's, passes.
	check := func(values string, extra ...string) result {
		args := append([]string{"check-values", "--registry", reg.Host + "/ess", "--ca-file", reg.CAFile, "--username", reg.Username,
			"--password-stdin", "--helm", helm, "--helm-values", values, "--values", w.allEnabled()}, extra...)
		return runCmd("unbundle", []byte(reg.Password+"\n"), append(args, w.bundle)...)
	}
	must(t, check(values))
	must(t, check(values, "--from-bundle"))

	// One image left out of what points at the registry: the check names it and its users.
	data, _ := os.ReadFile(values)
	cut := regexp.MustCompile(`(?m)^  redis:\n    exporter:\n(      .*\n)+`).ReplaceAllString(string(data), "  redis:\n")
	if cut == string(data) {
		t.Fatalf("the test did not remove the exporter's block:\n%s", data)
	}
	partial := filepath.Join(dir, "partial-values.yaml")
	os.WriteFile(partial, []byte(cut), 0o644)
	var exporter digests.Image
	for _, im := range w.chart.Images {
		if im.Container == "synapse_redis_exporter_image" {
			exporter = im
		}
	}
	r = check(partial)
	if r.code != cli.ExitNotLocal || !strings.Contains(r.stderr, "NOT LOCAL "+exporter.Ref()+": not pulled by digest") ||
		!strings.Contains(r.stderr, "used by Deployment/ess-redis container exporter") || strings.Count(r.stderr, "NOT LOCAL") != 1 {
		t.Errorf("check with the exporter left out: exit %d\n%s", r.code, r.stderr)
	}
	// The same, with --json: the documented document, naming the image and its users.
	r = check(partial, "--json")
	var cv report.CheckValues
	if err := report.Decode([]byte(r.stdout), &cv); err != nil || r.code != cli.ExitNotLocal || cv.OK || len(cv.NotLocal) != 1 ||
		cv.NotLocal[0].Image != exporter.Ref() || !slices.Contains(cv.NotLocal[0].UsedBy, "Deployment/ess-redis container exporter") ||
		cv.Chart == "" || cv.Containers == 0 || len(cv.Values) != 2 || cv.Error == "" {
		t.Errorf("check-values --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	r = check(values, "--json")
	var good report.CheckValues
	if err := report.Decode([]byte(r.stdout), &good); err != nil || r.code != 0 || !good.OK || len(good.NotLocal) != 0 || good.Images == 0 || good.Error != "" {
		t.Errorf("check-values --json of good values: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	// An image the values point at the registry but that it does not have.
	missing := strings.Replace(string(data), w.chart.Images[0].Digest, "sha256:"+strings.Repeat("e", 64), 1)
	os.WriteFile(partial, []byte(missing), 0o644)
	if r := check(partial); r.code != cli.ExitNotLocal || !strings.Contains(r.stderr, "@sha256:"+strings.Repeat("e", 64)+": not in the local registry") {
		t.Errorf("check with a digest the registry lacks: exit %d\n%s", r.code, r.stderr)
	}
}

// TestChartBundleSize: the chart and its images in one bundle are within 1 % of the size of a
// bundle of the same images made from an image list.
func TestChartBundleSize(t *testing.T) {
	t.Parallel()
	w := setupChart(t)
	dir := t.TempDir()
	yml, err := digests.Marshal(w.chart.Images)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "images.yml")
	os.WriteFile(list, yml, 0o644)
	images := filepath.Join(dir, "images.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", list, "--output", images))
	a, b := fileSize(t, w.bundle), fileSize(t, images)
	if diff := float64(a-b) / float64(b); diff > 0.01 || diff < -0.01 {
		t.Errorf("chart bundle %d bytes, image list bundle %d bytes: %+.2f %%", a, b, 100*diff)
	}
	if b < 8<<20 {
		t.Errorf("the images make only %d bytes: the comparison proves little", b)
	}
	t.Logf("chart bundle %d bytes, image list bundle %d bytes (%+.3f %%)", a, b, 100*float64(a-b)/float64(b))

	// The render check of a bundle without a chart says so.
	if r := runCmd("unbundle", nil, "check-values", "--registry", "127.0.0.1:1", "--helm-values", list, images); r.code != 1 || !strings.Contains(r.stderr, "no Helm chart in the bundle") {
		t.Errorf("check of an image list bundle: exit %d\n%s", r.code, r.stderr)
	}
}

// copyChart copies the upstream chart directory to a new one, with its version and values
// changed by the replacements (old, new pairs) in Chart.yaml and values.yaml.
func copyChart(t *testing.T, w *chartWorld, version string, values ...string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "mini-stack")
	run(t, "", nil, "cp", "-r", w.chart.Dir, dst)
	meta, _ := os.ReadFile(filepath.Join(dst, "Chart.yaml"))
	os.WriteFile(filepath.Join(dst, "Chart.yaml"), []byte(strings.Replace(string(meta), "version: 0.3.0", "version: "+version, 1)), 0o644)
	data, _ := os.ReadFile(filepath.Join(dst, "values.yaml"))
	s := string(data)
	for i := 0; i+1 < len(values); i += 2 {
		s = strings.Replace(s, values[i], values[i+1], 1)
	}
	os.WriteFile(filepath.Join(dst, "values.yaml"), []byte(s), 0o644)
	return dst
}

// TestChartUpgrade: diff compares two chart versions image by image (and a chart with a
// bundle); a --since delta of the next version carries the new chart and no layer the first
// bundle has, and pushes on top of it; one bundle holds an image list and a chart together.
func TestChartUpgrade(t *testing.T) {
	t.Parallel()
	w := setupChart(t)
	next := copyChart(t, w, "0.4.0", "tag: v1.159.0", "tag: v1.160.0")
	d := runDiff(t, "bundle", w.chart.Ref, next)
	var changed []string
	for _, c := range d.Changed {
		changed = append(changed, c.Key)
	}
	if !slices.Equal(changed, []string{"mini-stack.chart", "mini-stack.synapse.image"}) || d.Unchanged != 5 || len(d.Added)+len(d.Removed) != 0 {
		t.Errorf("diff 0.3.0 -> 0.4.0: changed %v, %+v", changed, d)
	}
	r := must(t, runCmd("bundle", nil, "diff", w.bundle, next))
	if !strings.Contains(r.stdout, "tag     v1.159.0 -> v1.160.0") || !strings.Contains(r.stdout, "(chart mini-stack 0.4.0, 6 image blocks)") {
		t.Errorf("diff bundle -> chart:\n%s", r.stdout)
	}

	// The next version with the same images: a delta carries the chart, no layer.
	same := copyChart(t, w, "0.4.0")
	delta := filepath.Join(t.TempDir(), "delta.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--chart", same, "--since", w.bundle, "--output", delta))
	dm, full := mustOpenManifest(t, delta), mustOpenManifest(t, w.bundle)
	for _, b := range dm.Blobs {
		if b.Kind == archive.KindLayer && b.MediaType != chart.ContentMediaType {
			t.Errorf("the delta carries image layer %s", b.Digest)
		}
	}
	if len(dm.External) == 0 || fileSize(t, delta) > fileSize(t, w.bundle)/20 || dm.Chart.Version != "0.4.0" {
		t.Errorf("delta: %d external, %d bytes against %d", len(dm.External), fileSize(t, delta), fileSize(t, w.bundle))
	}
	reg := secureRegistry(t)
	values := filepath.Join(t.TempDir(), "values.yaml")
	push := func(bundle string, extra ...string) result {
		args := append([]string{"push", "--registry", reg.Host, "--ca-file", reg.CAFile, "--username", reg.Username,
			"--password-stdin", "--helm", tool(t, "helm"), "--helm-values", values}, extra...)
		return must(t, runCmd("unbundle", []byte(reg.Password+"\n"), append(args, bundle)...))
	}
	push(w.bundle)
	r = push(delta, "--values", w.allEnabled())
	if !strings.Contains(r.stderr, "chart pushed: oci://"+reg.Host+"/mini-stack --version 0.4.0") || !strings.Contains(r.stderr, "every one from the local registry by digest") {
		t.Errorf("push of the delta:\n%s", r.stderr)
	}

	// An image list and the chart in one bundle: shared images stored once, the ConfigMap
	// for the list's containers, the values file for the chart's blocks.
	dir := t.TempDir()
	yml, _ := digests.Marshal(w.chart.Images)
	list := filepath.Join(dir, "images.yml")
	os.WriteFile(list, yml, 0o644)
	both := filepath.Join(dir, "both.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", list, "--chart", w.chart.Ref, "--output", both))
	if bm := mustOpenManifest(t, both); len(bm.Images) != 13 || bm.Totals.Blobs != full.Totals.Blobs || bm.Source.Name != list {
		t.Errorf("list + chart: %d images, %d blobs (the chart alone: %d)", len(bm.Images), bm.Totals.Blobs, full.Totals.Blobs)
	}
	cm := filepath.Join(dir, "cm.yaml")
	push(both, "--configmap", cm)
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := digests.ParseConfigMap(data)
	if err != nil || len(got) != len(w.chart.Images) {
		t.Errorf("ConfigMap: %d containers, want %d: %v", len(got), len(w.chart.Images), err)
	}
	if tree := readValues(t, values); at(tree, "synapse.redis.exporter.image.digest") == nil {
		t.Errorf("values of the list + chart bundle: %v", tree)
	}
}
