package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs the demo with small images, as make demo runs it: both paths (the image list,
// the chart) to the end, the ConfigMap and the values file printed. The CLI's commands are
// called as a user calls them, so a change that breaks the demo's steps fails here.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-dir", dir, "-size", "1048576"}, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"==> bundle create --images " + filepath.Join(dir, "images_digests.yml"),
		"==> <password> | unbundle push --registry ",
		"kind: ConfigMap",
		"done: every image is in the local registry with its upstream digest",
		"==> bundle create --chart ",
		"done: helm install ess oci://",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo does not say %q", want)
		}
	}
	if strings.Contains(out, "password") && strings.Contains(out, "--password ") {
		t.Error("a password on a command line")
	}
	values, err := os.ReadFile(filepath.Join(dir, "local-values.yaml"))
	if err != nil || !strings.Contains(string(values), "digest: sha256:") || !strings.Contains(out, string(values)) {
		t.Errorf("the values file: %v\n%s", err, values)
	}
	for _, f := range []string{"ess.tar.zst", "ess.tar.zst.sha256", "chart.tar.zst", "configmap.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-size", "big"}} {
		if err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
