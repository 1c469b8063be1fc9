package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestChartsAndExtraImages: one bundle of two charts, each with its own --values, and an image
// given with --image (what a site runs beside ESS). The image is extra.<name> in list and the
// ConfigMap; each chart gets its values file (NAME before the extension) and its render check.
func TestChartsAndExtraImages(t *testing.T) {
	t.Parallel()
	w := setupChart(t)
	dir := t.TempDir()
	// A second chart: the first renamed, reading the same upstream images.
	two := copyChart(t, w, "1.0.0")
	meta, _ := os.ReadFile(filepath.Join(two, "Chart.yaml"))
	os.WriteFile(filepath.Join(two, "Chart.yaml"), []byte(strings.Replace(string(meta), "name: mini-stack", "name: mini-two", 1)), 0o644)
	var redis digests.Image
	for _, im := range w.chart.Images {
		if im.Container == "synapse_redis_image" {
			redis = im
		}
	}
	// mini-two's --values drops hookshot's block: only mini-two's, since it follows its --chart.
	drop := filepath.Join(dir, "two.yaml")
	os.WriteFile(drop, []byte("hookshot:\n  image: null\n"), 0o644)
	bundle := filepath.Join(dir, "two.tar.zst")
	r := must(t, runCmd("bundle", nil, "create", "--chart", w.chart.Ref, "--chart", two, "--values", drop,
		"--image", redis.Ref(), "--image", "db.cache="+redis.Ref(), "--output", bundle))
	m := mustOpenManifest(t, bundle)
	if len(m.Charts) != 2 || m.Chart != nil || m.Charts[0].Name != "mini-stack" || m.Charts[1].Name != "mini-two" ||
		len(m.Charts[0].Values) != 0 || len(m.Charts[1].Values) != 1 {
		t.Fatalf("chart records %+v, %+v", m.Chart, m.Charts)
	}
	keys := map[string]bool{}
	for _, im := range m.Images {
		keys[im.Key()] = true
	}
	extraKey := "extra." + filepath.Base(redis.Path)
	for _, k := range []string{"mini-stack.chart", "mini-two.chart", "mini-stack.hookshot.image", "mini-two.synapse.image", extraKey, "db.cache"} {
		if !keys[k] {
			t.Errorf("no %s in the bundle: %v", k, keys)
		}
	}
	if keys["mini-two.hookshot.image"] {
		t.Error("mini-two's --values did not apply to it")
	}
	r = must(t, runCmd("unbundle", nil, "list", bundle))
	for _, want := range []string{"chart mini-stack 0.3.0", "chart mini-two 1.0.0", extraKey} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list does not say %q:\n%s", want, r.stdout)
		}
	}

	reg := testregistry.StartT(t)
	cm := filepath.Join(dir, "cm.yaml")
	values := filepath.Join(dir, "local.yaml")
	r = must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host+"/site", "--configmap", cm, "--helm-values", values, "--helm", tool(t, "helm"), bundle))
	for _, f := range []string{"local.mini-stack.yaml", "local.mini-two.yaml"} {
		if data, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !strings.Contains(string(data), reg.Host) {
			t.Errorf("%s: %v", f, err)
		}
	}
	if strings.Count(r.stderr, "render check: chart") != 2 {
		t.Errorf("not one render check per chart:\n%s", r.stderr)
	}
	data, _ := os.ReadFile(cm)
	got, err := digests.ParseConfigMap(data)
	if err != nil || len(got) != 2 {
		t.Fatalf("ConfigMap: %v, %d entries (the two --image)", err, len(got))
	}
	for _, im := range got {
		if im.Path != "site/"+redis.Path || im.Digest != redis.Digest || im.Server != reg.Host {
			t.Errorf("ConfigMap entry %s: %+v", im.Key(), im)
		}
	}
}

// TestFullDiskRegistry: a registry whose storage is full answers every upload with 500 and
// its words for it. The push stops within a minute (here, seconds), exit 1, one block that
// quotes the registry, and no ConfigMap.
func TestFullDiskRegistry(t *testing.T) {
	t.Parallel()
	w := setup(t)
	f := testregistry.NewFaults(7)
	f.FailUploads(500, `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"filesystem: write /var/lib/registry/docker/registry/v2/repositories/ess/_uploads/0a1b/data: no space left on device"}]}`)
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	cm := filepath.Join(t.TempDir(), "cm.yaml")
	start := time.Now()
	r := runCmd("unbundle", nil, "push", "--retry-time", "20s", "--registry", dest.Host, "--configmap", cm, w.bundle)
	took := time.Since(start)
	t.Logf("exit %d after %s, %d requests:\n%s", r.code, took.Round(time.Millisecond), dest.Requests(), r.stderr)
	if r.code != cli.ExitError || took > time.Minute {
		t.Fatalf("exit %d after %s, want %d within a minute", r.code, took, cli.ExitError)
	}
	if n := strings.Count(r.stderr, "FAILED "); n != 1 || !strings.Contains(r.stderr, "no space left on device") ||
		!strings.Contains(r.stderr, "the registry fails every upload") || strings.Contains(r.stderr, "rerun the same command to resume") {
		t.Errorf("%d FAILED blocks; the registry's words quoted?\n%s", n, r.stderr)
	}
	if _, err := os.Stat(cm); err == nil {
		t.Error("a ConfigMap was written")
	}
}

// TestCreateWithoutCredentials: an upstream that refuses anonymous pulls: bundle create says it
// once (one block for every container) and exits 5, as push does for the same cause.
func TestCreateWithoutCredentials(t *testing.T) {
	t.Parallel()
	w := setup(t)
	locked, err := testregistry.Start(context.Background(), filepath.Join(w.dir, "upstream"), testregistry.WithAuth("ess", "upstream-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	list := w.listVia(t, locked.Host)
	r := runCmdEnv("bundle", []string{"DOCKER_CONFIG=" + t.TempDir()}, nil, "create", "--images", list, "--output", filepath.Join(t.TempDir(), "x.tar.zst"))
	if r.code != cli.ExitRefused || strings.Count(r.stderr, "FAILED ") != 1 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("exit %d, want %d with one FAILED block:\n%s", r.code, cli.ExitRefused, r.stderr)
	}
	if lines := strings.Count(r.stderr, "\n"); lines > 12 {
		t.Errorf("%d lines for one cause:\n%s", lines, r.stderr)
	}
}
