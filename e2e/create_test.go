package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
)

// TestTagsResolvedAndSelection: entries without a digest have their tag resolved once and the
// digest recorded; --include and --exclude pick containers; the same input twice gives a
// byte-identical bundle.
func TestTagsResolvedAndSelection(t *testing.T) {
	t.Parallel()
	w := setup(t)
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	var tagsOnly []digests.Image
	want := map[string]string{}
	for _, im := range w.images {
		want[im.Key()] = im.Digest
		im.Digest = ""
		tagsOnly = append(tagsOnly, im)
	}
	yml, err := digests.Marshal(tagsOnly)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "tags.yml")
	os.WriteFile(list, yml, 0o644)

	args := []string{"create", "--images", list, "--include", "adminbot", "--include", "synapse", "--exclude", "synapse.redis"}
	one := filepath.Join(dir, "one.tar.zst")
	two := filepath.Join(dir, "two.tar.zst")
	must(t, runCmdEnv("bundle", env, nil, append(args, "--output", one)...))
	must(t, runCmdEnv("bundle", env, nil, append(args, "--output", two)...))

	a, _ := os.ReadFile(one)
	b, _ := os.ReadFile(two)
	if !bytes.Equal(a, b) {
		t.Fatal("the same input gave two different bundles")
	}
	bun, err := trust.Open(one)
	if err != nil {
		t.Fatal(err)
	}
	defer bun.Close()
	got := map[string]bool{}
	for _, im := range bun.Manifest().Images {
		got[im.Key()] = true
		if im.ListedDigest != "" || im.Digest != want[im.Key()] {
			t.Errorf("%s: recorded digest %s (listed %q), upstream %s", im.Key(), im.Digest, im.ListedDigest, want[im.Key()])
		}
		if im.Component != "adminbot" && im.Component != "synapse" || im.Key() == "synapse.redis" {
			t.Errorf("%s selected", im.Key())
		}
	}
	if !got["adminbot.haproxy"] || !got["synapse.synapse"] || got["synapse.redis"] {
		t.Fatalf("selection gave %v", got)
	}
}

func TestUsageErrors(t *testing.T) {
	w := setup(t)
	tests := []struct {
		prog string
		args []string
		say  string
	}{
		{"unbundle", []string{"push", w.bundle, "--no-such-flag"}, "no-such-flag"}, // flags after the argument are read
		{"unbundle", []string{"push", w.bundle}, "registry"},
		{"bundle", []string{"create", "--images", w.list, "--output", "x.tar"}, ".tar.zst"},
		{"bundle", []string{"create", "--images", w.list, "--output", filepath.Join(t.TempDir(), "x.tar.zst"), "--include", "nosuchcomponent"}, "nosuchcomponent"},
		{"bundle", []string{"frobnicate"}, "frobnicate"},
		{"unbundle", []string{"secret", "--registry", "r.local", "--username", "u"}, "password"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv("REGISTRY_PASSWORD", "")
			r := runCmd(tt.prog, nil, tt.args...)
			if r.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", r.code, cli.ExitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.say) {
				t.Fatalf("stderr does not say %q:\n%s", tt.say, r.stderr)
			}
		})
	}
}

// TestDockerConfigCredentials: without --username, the Docker config's credentials are used.
func TestDockerConfigCredentials(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{"auth": auth}}})
	os.WriteFile(filepath.Join(cfg, "config.json"), data, 0o600)

	// An empty DOCKER_CONFIG: no credentials.
	r := runCmdEnv("unbundle", []string{"DOCKER_CONFIG=" + t.TempDir()}, nil, "push", "--registry", reg.Host, "--ca-file", reg.CAFile, "--configmap", filepath.Join(cfg, "cm.yaml"), w.bundle)
	if r.code != cli.ExitRefused || !strings.Contains(r.stderr, "credentials") {
		t.Fatalf("without credentials: exit %d, want %d naming the credentials\n%s", r.code, cli.ExitRefused, r.stderr)
	}
	must(t, runCmdEnv("unbundle", []string{"DOCKER_CONFIG=" + cfg}, nil, "push", "--registry", reg.Host, "--ca-file", reg.CAFile, "--configmap", filepath.Join(cfg, "cm.yaml"), w.bundle))
}

// TestUnknownCA: a registry whose CA is not given says to use --ca-file.
func TestUnknownCA(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	r := runCmd("unbundle", []byte(reg.Password), "push", "--registry", reg.Host, "--username", reg.Username, "--password-stdin", w.bundle)
	if r.code == 0 || !strings.Contains(r.stderr, "--ca-file") {
		t.Fatalf("exit %d, want an error suggesting --ca-file\n%s", r.code, r.stderr)
	}
}

func TestSecretFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "secret.yaml")
	r := must(t, runCmd("unbundle", []byte("hunter2-pw\n"), "secret", "--registry", "localregistry.local", "--username", "ess",
		"--password-stdin", "--output", out))
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "kubernetes.io/dockerconfigjson") || strings.Contains(string(data), "hunter2-pw") {
		t.Fatalf("secret:\n%s", data)
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2-pw") {
		t.Fatal("the password was printed")
	}
}

// TestDryRun: --dry-run resolves everything, prints the plan and writes nothing.
func TestDryRun(t *testing.T) {
	t.Parallel()
	w := setup(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "plan.tar.zst")
	r := must(t, runCmd("bundle", nil, "create", "--dry-run", "--images", w.list, "--output", out))
	if !strings.Contains(r.stdout, "plan for") || !strings.Contains(r.stdout, "35 containers") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a dry run wrote %d files", len(entries))
	}
}
