package e2e

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

var loadSize = flag.Int64("load-size", 2<<30, "bytes of unique layers in the load test's fixture (the benchmark's)")

// TestLoadJobs16: unbundle push --jobs 16 of the benchmark-sized fixture into a Distribution
// registry with auth and TLS, three times into the same registry: every digest right each
// time, and the second and third runs upload nothing. The commands run as built binaries (not
// under the race detector) so that the gigabytes move at a realistic speed.
func TestLoadJobs16(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	up, err := testregistry.Start(ctx, filepath.Join(dir, "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	list := filepath.Join(dir, "list.yml")
	gen := exec.Command("go", "run", "../cmd/essfixture", "--registry", up.Host, "--size", strconv.FormatInt(*loadSize, 10), "--seed", "16", "--output", list)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("essfixture: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(list)
	l, err := digests.Parse(list, data)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "load.tar.zst")
	if out, err := exec.Command(binary(t, "bundle"), "create", "--images", list, "--output", bundle).CombinedOutput(); err != nil {
		t.Fatalf("bundle create: %v\n%s", err, out)
	}
	reg := secureRegistry(t)
	var uploaded []int64
	for run := 1; run <= 3; run++ {
		before := reg.BlobBytesReceived()
		cmd := exec.Command(binary(t, "unbundle"), "push", "--jobs", "16", "--registry", reg.Host, "--ca-file", reg.CAFile,
			"--username", reg.Username, "--password-stdin", "--configmap", filepath.Join(dir, "cm.yaml"), bundle)
		cmd.Stdin = stringReader(reg.Password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("push %d: %v\n%s", run, err, out)
		}
		uploaded = append(uploaded, reg.BlobBytesReceived()-before)
		cm, _ := os.ReadFile(filepath.Join(dir, "cm.yaml"))
		got, err := digests.ParseConfigMap(cm)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(l.Images) {
			t.Fatalf("push %d: ConfigMap has %d of %d containers", run, len(got), len(l.Images))
		}
		want := map[string]string{}
		for _, im := range l.Images {
			want[im.Key()] = im.Digest
		}
		for _, im := range got {
			if served := headDigest(t, reg, reg.Host+"/"+im.Path+":"+im.Tag); served != want[im.Key()] || im.Digest != served {
				t.Errorf("push %d: %s: ConfigMap %s, registry %s, upstream %s", run, im.Key(), im.Digest, served, want[im.Key()])
			}
		}
	}
	t.Logf("blob bytes uploaded by the three runs: %v", uploaded)
	if uploaded[0] < *loadSize*9/10 || uploaded[1] != 0 || uploaded[2] != 0 {
		t.Fatalf("uploaded %v: want the fixture once, then nothing", uploaded)
	}
}
