package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestPushUsage: push refuses what it cannot do before it reads the bundle, with exit 2 and a
// message naming the flag or argument and what to give.
func TestPushUsage(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "x.tar.zst")
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no bundle", []string{"push", "--registry", "r:5000"}, "push: missing bundle argument"},
		{"no registry", []string{"push", bundle}, "push: --registry is required"},
		{"a scheme", []string{"push", "--registry", "https://r:5000", bundle}, `--registry "https://r:5000": want HOST[:PORT][/PREFIX], without a scheme`},
		{"an upper-case prefix", []string{"push", "--registry", "r:5000/ESS", bundle}, `path prefix "ESS": repository paths are lowercase`},
		{"--json and the ConfigMap on standard output", []string{"push", "--json", "--registry", "r", bundle}, "--json prints the report on standard output: give --configmap FILE"},
		{"a flag after --", []string{"push", "--registry", "r", "--", "-x.tar.zst"}, `unexpected "-x.tar.zst" after the bundle argument`},
		{"configmap without a registry", []string{"configmap", bundle}, "configmap: --registry is required"},
		{"an unknown command", []string{"pusj"}, `unknown command "pusj"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMain("unbundle", "", tc.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) {
				t.Errorf("exit %d, want %d saying %q:\n%s", r.code, ExitUsage, tc.says, r.stderr)
			}
		})
	}
	r := runMain("unbundle", "", "push", "--registry", "r", bundle)
	if r.code != ExitError || !strings.Contains(r.stderr, "x.tar.zst") {
		t.Errorf("a bundle not there: exit %d: %s", r.code, r.stderr)
	}
}

// TestPushPartialBundle: a partial bundle's images are pushed, and its ConfigMap is written
// only with --allow-partial (exit 4 otherwise, naming what it lacks), without the containers
// it lacks; configmap does the same.
func TestPushPartialBundle(t *testing.T) {
	w := newWorld(t, 121)
	broken := append([]digests.Image{}, w.images...)
	broken[2].Path += "-gone"
	list := w.writeList(t, "broken.yml", broken)
	bundle := filepath.Join(w.dir, "p.tar.zst")
	if r := runMain("bundle", "", "create", "--images", list, "-o", bundle, "--allow-partial"); r.code != ExitRefused {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	dest := testregistry.StartT(t)
	cm := filepath.Join(w.dir, "cm.yaml")
	r := runMain("unbundle", "", "push", "--registry", dest.Host, "--configmap", cm, bundle)
	if r.code != ExitPartial {
		t.Fatalf("push: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, "this bundle is partial: 1 containers missing: "+broken[2].Key(), "pushed 2 containers to "+dest.Host,
		"every image it carries was pushed; no ConfigMap or Helm values written", "--allow-partial")
	if _, err := os.Stat(cm); !os.IsNotExist(err) {
		t.Errorf("a ConfigMap was written: %v", err)
	}

	r = runMain("unbundle", "", "push", "--registry", dest.Host, "--configmap", cm, "--allow-partial", "--namespace", "ess", bundle)
	if r.code != ExitOK {
		t.Fatalf("push --allow-partial: exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	images, err := digests.ParseConfigMap(data)
	if err != nil || len(images) != 2 {
		t.Fatalf("ConfigMap: %v, %v\n%s", images, err, data)
	}
	for _, im := range images {
		if im.Key() == broken[2].Key() || im.Server != dest.Host || im.Digest == "" {
			t.Errorf("ConfigMap entry %+v", im)
		}
	}
	abs, _ := filepath.Abs(cm)
	mustSay(t, "stderr", r.stderr, "Next steps:", "kubectl apply -f "+abs+" -n ess", "unbundle secret --registry "+dest.Host)

	r = runMain("unbundle", "", "configmap", "--registry", dest.Host, bundle)
	if r.code != ExitPartial || !strings.Contains(r.stderr, "no ConfigMap written") || r.stdout != "" {
		t.Errorf("configmap: exit %d: %s", r.code, r.stderr)
	}
	r = runMain("unbundle", "", "configmap", "--registry", dest.Host, "--allow-partial", bundle)
	if r.code != ExitOK || !strings.Contains(r.stdout, "kind: ConfigMap") || strings.Contains(r.stdout, broken[2].Key()) {
		t.Errorf("configmap --allow-partial: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
}

// TestPushCredentials: a registry that refuses the credentials fails the push with exit 5 and
// what to fix; no password is printed, and no ConfigMap written.
func TestPushCredentials(t *testing.T) {
	w := newWorld(t, 122)
	bundle := filepath.Join(w.dir, "b.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", bundle, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	const user, pw = "pusher", "Push-Pa55-x81z"
	dest := testregistry.StartT(t, testregistry.WithAuth(user, pw))
	t.Setenv("REGISTRY_PASSWORD", "")
	cm := filepath.Join(w.dir, "cm.yaml")
	wrong := "wrong-Pa55-q7"
	r := runMain("unbundle", wrong+"\n", "push", "--registry", dest.Host, "--username", user, "--password-stdin", "--configmap", cm, bundle)
	if r.code != ExitRefused {
		t.Errorf("wrong password: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, wrong) {
		t.Errorf("the password printed: %s", r.stderr)
	}
	if _, err := os.Stat(cm); !os.IsNotExist(err) {
		t.Errorf("a ConfigMap was written: %v", err)
	}
	r = runMain("unbundle", pw+"\n", "push", "--registry", dest.Host, "--username", user, "--password-stdin", "--configmap", cm, bundle)
	if r.code != ExitOK || strings.Contains(r.stderr+r.stdout, pw) {
		t.Errorf("push: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(cm); err != nil {
		t.Errorf("no ConfigMap: %v", err)
	}
}
