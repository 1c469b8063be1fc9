package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// faultyUpstream serves the shared upstream's storage through a second registry that injects
// faults, and returns an image list that points at it.
func faultyUpstream(t *testing.T, w *world, f *testregistry.Faults) (*testregistry.Registry, string) {
	t.Helper()
	reg, err := testregistry.Start(context.Background(), filepath.Join(w.dir, "upstream"), testregistry.WithFaults(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	var moved []digests.Image
	for _, im := range w.images {
		im.Server = reg.Host
		moved = append(moved, im)
	}
	list := filepath.Join(t.TempDir(), "list.yml")
	yml, _ := digests.Marshal(moved)
	os.WriteFile(list, yml, 0o644)
	return reg, list
}

// fast retry settings for tests: stalls are cut after 1 s.
var quickRetries = []string{"--timeout", "1s", "--retries", "8", "--retry-time", "20s"}

// TestFlakyNetwork: with 20% of requests failing at random (5xx, 429 with Retry-After, resets
// and truncations mid-blob, stalls), bundle create and unbundle push complete and every digest
// is right.
func TestFlakyNetwork(t *testing.T) {
	t.Parallel()
	w := setup(t)
	up := testregistry.NewFaults(1)
	up.SetRate(0.2)
	_, list := faultyUpstream(t, w, up)
	dir := t.TempDir()
	out := filepath.Join(dir, "flaky.tar.zst")
	must(t, runRaced("bundle", nil, append(append([]string{"create"}, quickRetries...), "--images", list, "--output", out)...))
	t.Logf("upstream faults injected: %v", up.Injected())
	if r := runRaced("bundle", nil, "verify", out); r.code != 0 {
		t.Fatalf("verify: %s", r.stderr)
	}
	want := map[string]string{}
	for _, im := range w.images {
		want[im.Key()] = im.Digest
	}
	for _, im := range mustOpenManifest(t, out).Images {
		if im.Digest != want[im.Key()] {
			t.Errorf("%s: bundled %s, upstream %s", im.Key(), im.Digest, want[im.Key()])
		}
	}

	down := testregistry.NewFaults(2)
	down.SetRate(0.2)
	dest := testregistry.StartT(t, testregistry.WithFaults(down))
	cm := filepath.Join(dir, "cm.yaml")
	must(t, runRaced("unbundle", nil, append(append([]string{"push"}, quickRetries...), "--registry", dest.Host, "--configmap", cm, out)...))
	t.Logf("destination faults injected: %v", down.Injected())
	down.SetRate(0)
	data, _ := os.ReadFile(cm)
	got, err := digests.ParseConfigMap(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(w.images) {
		t.Fatalf("ConfigMap has %d of %d containers", len(got), len(w.images))
	}
	for _, im := range got {
		if served := headDigest(t, dest, dest.Host+"/"+im.Path+":"+im.Tag); served != want[im.Key()] || im.Digest != served {
			t.Errorf("%s: ConfigMap %s, registry %s, upstream %s", im.Key(), im.Digest, served, want[im.Key()])
		}
	}
}

// readReport reads a --report file strictly as docs/json.md documents it (report.Create for
// bundle create, report.Push for unbundle push) and returns its images and failures.
func readReport(t *testing.T, path string) ([]report.Image, []report.Failure) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var probe struct{ Command string }
	json.Unmarshal(data, &probe)
	switch probe.Command {
	case "create":
		var r report.Create
		if err := report.Decode(data, &r); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, data)
		}
		return r.Images, r.Failed
	case "push":
		var r report.Push
		if err := report.Decode(data, &r); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, data)
		}
		return r.Images, r.Failed
	}
	t.Fatalf("%s: not a create or push report:\n%s", path, data)
	return nil, nil
}

// TestRepositoryFailingForGood: one repository that always fails does not stop the others;
// the failures are listed, the exit code says partial, and --report has every outcome.
func TestRepositoryFailingForGood(t *testing.T) {
	t.Parallel()
	w := setup(t)
	const broken = "library/redis"
	var brokenKeys []string
	for _, im := range w.images {
		if im.Path == broken {
			brokenKeys = append(brokenKeys, im.Key())
		}
	}
	if len(brokenKeys) == 0 {
		t.Fatalf("the fixture has no %s", broken)
	}
	check := func(t *testing.T, r result, images []report.Image, fails []report.Failure) {
		t.Helper()
		if r.code != cli.ExitPartial {
			t.Fatalf("exit %d, want %d (partial)\n%s", r.code, cli.ExitPartial, r.stderr)
		}
		failed := map[string]bool{}
		for _, f := range fails {
			if f.Error == "" {
				t.Errorf("%s: failed with no error in the report", f.Container)
			}
			failed[f.Container] = true
		}
		for _, o := range images {
			if o.Digest == "" || failed[o.Container] {
				t.Errorf("%s: no digest, or both done and failed, in the report", o.Container)
			}
		}
		for _, k := range brokenKeys {
			if !failed[k] || !strings.Contains(r.stderr, k) {
				t.Errorf("%s is not reported as failed", k)
			}
		}
		// One cause, one block: the broken repository's containers under one FAILED line.
		if n := strings.Count(r.stderr, "FAILED "); n != 1 || len(brokenKeys) > 1 && !strings.Contains(r.stderr, fmt.Sprintf("FAILED %d containers: HTTP 500", len(brokenKeys))) {
			t.Errorf("%d FAILED lines for one cause:\n%s", n, r.stderr)
		}
		if len(images)+len(fails) != len(w.images) || len(failed) != len(brokenKeys) {
			t.Errorf("report: %d done, %d failed; want %d in all, %d failed", len(images), len(failed), len(w.images), len(brokenKeys))
		}
	}
	dir := t.TempDir()

	// create: no bundle is passed as whole. By default nothing but the .partial (for the
	// rerun); with --allow-partial a bundle whose manifest lists what it lacks, which verify
	// and list name, and of which push writes the ConfigMap only with --allow-partial too.
	t.Run("create", func(t *testing.T) {
		f := testregistry.NewFaults(3)
		f.FailRepository(broken, http.StatusInternalServerError)
		_, list := faultyUpstream(t, w, f)
		out := filepath.Join(dir, "partial.tar.zst")
		rp := filepath.Join(dir, "create.json")
		args := []string{"create", "--timeout", "1s", "--retry-time", "2s", "--images", list, "--output", out, "--report", rp}
		r := runCmd("bundle", nil, args...)
		images, fails := readReport(t, rp)
		check(t, r, images, fails)
		for _, f := range []string{out, out + ".sha256"} {
			if _, err := os.Stat(f); err == nil {
				t.Fatalf("%s written by a create that failed images\n%s", f, r.stderr)
			}
		}
		if _, err := os.Stat(out + ".partial"); err != nil || !strings.Contains(r.stderr, "no bundle written") || strings.Contains(r.stdout, "carry ") {
			t.Fatalf("no .partial kept, or a bundle announced (%v):\n%s\n%s", err, r.stdout, r.stderr)
		}

		r = runCmd("bundle", nil, append(args, "--allow-partial")...)
		images, fails = readReport(t, rp)
		check(t, r, images, fails)
		m := mustOpenManifest(t, out)
		if got := len(m.Images); got != len(w.images)-len(brokenKeys) || len(m.Missing) != len(brokenKeys) {
			t.Fatalf("the partial bundle has %d containers, %d missing", got, len(m.Missing))
		}
		want := fmt.Sprintf("partial: %d containers missing: %s", len(brokenKeys), brokenKeys[0])
		for _, prog := range []string{"bundle", "unbundle"} {
			for _, cmd := range []string{"verify", "list"} {
				if r := must(t, runCmd(prog, nil, cmd, out)); !strings.Contains(r.stdout, want) {
					t.Errorf("%s %s does not say %q:\n%s", prog, cmd, want, r.stdout)
				}
			}
		}
		dest := testregistry.StartT(t)
		cm := filepath.Join(dir, "partial-cm.yaml")
		r = runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, out)
		if _, err := os.Stat(cm); r.code != cli.ExitPartial || err == nil || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--allow-partial") {
			t.Fatalf("push of a partial bundle: exit %d, ConfigMap written %v:\n%s", r.code, err == nil, r.stderr)
		}
		must(t, runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, "--allow-partial", out))
		data, _ := os.ReadFile(cm)
		got, err := digests.ParseConfigMap(data)
		if err != nil || len(got) != len(w.images)-len(brokenKeys) {
			t.Fatalf("ConfigMap of the partial bundle: %d entries, %v", len(got), err)
		}
	})
	t.Run("push", func(t *testing.T) {
		f := testregistry.NewFaults(4)
		f.FailRepository(broken, http.StatusInternalServerError)
		dest := testregistry.StartT(t, testregistry.WithFaults(f))
		rp := filepath.Join(dir, "push.json")
		cm := filepath.Join(dir, "cm.yaml")
		r := runCmd("unbundle", nil, "push", "--timeout", "1s", "--retry-time", "2s", "--registry", dest.Host, "--configmap", cm, "--report", rp, w.bundle)
		images, fails := readReport(t, rp)
		check(t, r, images, fails)
		if _, err := os.Stat(cm); err == nil {
			t.Fatal("a ConfigMap was written after a partial push")
		}
	})
}

// TestRejectedMediaType: a registry that refuses a manifest media type is found by the push's
// preflight, which pushes the smallest image of that type first: the refusal names the media
// type, exits 5 (refused: a rerun cannot help), and only that image's blobs were sent.
func TestRejectedMediaType(t *testing.T) {
	t.Parallel()
	w := setup(t)
	f := testregistry.NewFaults(5)
	f.RejectMediaType("application/vnd.docker.distribution.manifest.v2+json")
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	r := runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", filepath.Join(t.TempDir(), "cm.yaml"), w.bundle)
	if r.code != cli.ExitRefused || !strings.Contains(r.stderr, "refuses Docker media types (application/vnd.docker.distribution.manifest.v2+json)") {
		t.Fatalf("exit %d; want refused, naming the media type:\n%s", r.code, r.stderr)
	}
	var total int64
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		total += b.Size
	}
	if got := dest.BlobBytesReceived(); got > total/2 {
		t.Fatalf("the registry received %d of %d blob bytes before the refusal", got, total)
	}
}

// TestSecretsNeverShown: the password appears in no output, error or report, whether the
// registry accepts it or not.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	dir := t.TempDir()
	rp := filepath.Join(dir, "report.json")
	bad := "wrong-" + reg.Password
	outputs := []result{
		runCmd("unbundle", []byte(bad+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm1.yaml"), "--report", rp)...),
		runCmd("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "cm2.yaml"), "--report", rp)...),
		runCmd("unbundle", []byte(reg.Password+"\n"), "secret", "--registry", reg.Host, "--username", reg.Username, "--password-stdin", "--output", filepath.Join(dir, "s.yaml")),
		runCmd("bundle", []byte(reg.Password+"\n"), "create", "--username", "u", "--password-stdin", "--auth-registry", reg.Host, "--images", w.list, "--output", filepath.Join(dir, "x.tar"), "--jobs", "0"),
	}
	if outputs[0].code == 0 || outputs[1].code != 0 {
		t.Fatalf("wrong password exit %d, right password exit %d:\n%s", outputs[0].code, outputs[1].code, outputs[1].stderr)
	}
	reportData, _ := os.ReadFile(rp)
	for _, pw := range []string{reg.Password, bad} {
		for _, o := range outputs {
			if strings.Contains(o.stdout+o.stderr, pw) {
				t.Errorf("%v printed the password", o.args)
			}
		}
		if strings.Contains(string(reportData), pw) {
			t.Error("the report holds the password")
		}
		for _, cm := range []string{"cm1.yaml", "cm2.yaml"} {
			if data, _ := os.ReadFile(filepath.Join(dir, cm)); strings.Contains(string(data), pw) {
				t.Errorf("%s holds the password", cm)
			}
		}
	}
}
