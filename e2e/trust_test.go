package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestSignatureNeverSilent: a signature beside a bundle is never passed over in silence. Without
// a key, every command that reads the bundle says on stderr that it is signed and that the
// signature was not checked, and verify says so in its summary; an internally valid bundle
// swapped in with its own checksum file beside the real signature is refused (exit 3) by every
// command, key or no key; $ESS_AIRGAP_PUBLIC_KEY, set once, makes every command require the
// signature, as --public-key does.
func TestSignatureNeverSilent(t *testing.T) {
	t.Parallel()
	w := setup(t)
	keys := t.TempDir()
	key, fp := sshKey(t, keys, "release")
	dir := t.TempDir()
	out := filepath.Join(dir, "ess.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", w.list, "--output", out, "--sign-key", key))
	reg := testregistry.StartT(t)
	cm := filepath.Join(t.TempDir(), "cm.yaml")

	notChecked := "ess.tar.zst: signed by ED25519 key " + fp + ", signature not checked: give --public-key"
	r := must(t, runCmd("unbundle", nil, "verify", out))
	if !strings.Contains(r.stderr, notChecked) || !strings.Contains(r.stdout, "SIGNATURE NOT CHECKED") {
		t.Fatalf("verify without a key says:\n%s%s", r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"list", out}, {"diff", out, out}} {
		if r := must(t, runCmd("unbundle", nil, args...)); !strings.Contains(r.stderr, notChecked) {
			t.Fatalf("%s without a key says:\n%s", args[0], r.stderr)
		}
	}
	r = must(t, runCmd("unbundle", nil, "verify", "--public-key", key+".pub", out))
	if !strings.Contains(r.stdout, "signed by ED25519 key "+fp) || !strings.Contains(r.stdout, "signature checked") {
		t.Fatalf("verify with the key says:\n%s", r.stdout)
	}

	// The key set once in the environment: an unsigned bundle is refused by every command.
	unsigned := filepath.Join(t.TempDir(), "ess.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", w.list, "--output", unsigned, "--exclude", w.images[0].Component))
	env := []string{"ESS_AIRGAP_PUBLIC_KEY=" + key + ".pub"}
	for _, args := range [][]string{{"verify", unsigned}, {"list", unsigned}, {"configmap", "--registry", reg.Host, "--configmap", cm, unsigned},
		{"push", "--registry", reg.Host, "--configmap", cm, unsigned}} {
		if r := runCmdEnv("unbundle", env, nil, args...); r.code != 3 || !strings.Contains(r.stderr, "is not signed") {
			t.Fatalf("%s of an unsigned bundle with $ESS_AIRGAP_PUBLIC_KEY: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	must(t, runCmdEnv("unbundle", env, nil, "list", out))

	// An internally valid bundle and its own checksum file, put beside the real signature.
	os.Rename(unsigned, out)
	os.Rename(unsigned+".sha256", out+".sha256")
	for _, args := range [][]string{{"verify", out}, {"list", out}, {"push", "--registry", reg.Host, "--configmap", cm, out}} {
		for _, withKey := range []bool{false, true} {
			a := args
			if withKey {
				a = append([]string{args[0], "--public-key", key + ".pub"}, args[1:]...)
			}
			r := runCmd("unbundle", nil, a...)
			if r.code != 3 || !strings.Contains(r.stderr, "does not match the signed file") && !strings.Contains(r.stderr, "does not sign ess.tar.zst.sha256 as it is") {
				t.Fatalf("%v of a swapped bundle: exit %d\n%s%s", a, r.code, r.stdout, r.stderr)
			}
		}
	}
	// Nothing reached the registry.
	resp, err := http.Get("http://" + reg.Host + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"repositories":[]`) {
		t.Fatalf("the registry holds: %s", body)
	}
}
