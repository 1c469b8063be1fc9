package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// sshKey makes an ed25519 key pair with ssh-keygen (Debian: openssh-client) and returns the
// private key's path and its fingerprint.
func sshKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	run(t, dir, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@example.org", "-f", p)
	return p, strings.Fields(run(t, dir, nil, "ssh-keygen", "-l", "-f", p+".pub"))[1]
}

// TestSignedBundle: a bundle signed by bundle create --sign-key is verified by ssh-keygen -Y
// verify and by unbundle verify and push --public-key, which print who signed and when; one
// signed by ssh-keygen is verified by ours; an unsigned bundle, one re-signed by another key and
// one swapped under its signed checksum file are refused with exit 3, naming the key that signed.
func TestSignedBundle(t *testing.T) {
	t.Parallel()
	w := setup(t)
	keys := t.TempDir()
	key, fp := sshKey(t, keys, "release")
	other, otherFP := sshKey(t, keys, "intruder")
	allowed := filepath.Join(keys, "allowed_signers")
	pub, _ := os.ReadFile(key + ".pub")
	os.WriteFile(allowed, []byte("release@example.org namespaces=\"ess-airgap-bundle\" "+string(pub)), 0o644)

	dir := t.TempDir()
	out := filepath.Join(dir, "ess.tar.zst")
	r := must(t, runCmd("bundle", nil, "create", "--images", w.list, "--output", out, "--split-size", "20MiB", "--parity", "1", "--sign-key", key))
	if !strings.Contains(r.stdout, "signed "+out+".sha256 with ED25519 key "+fp) {
		t.Fatalf("create says:\n%s", r.stdout)
	}
	// The standard tool, with nothing of ours.
	sshVerify := func(sigFile string) (string, error) {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "release@example.org", "-n", "ess-airgap-bundle", "-s", sigFile)
		cmd.Stdin, _ = os.Open(out + ".sha256")
		o, err := cmd.CombinedOutput()
		return string(o), err
	}
	if o, err := sshVerify(out + ".sha256.sig"); err != nil || !strings.Contains(o, "Good \"ess-airgap-bundle\" signature for release@example.org") {
		t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, o)
	}
	r = must(t, runCmd("unbundle", nil, "verify", "--public-key", allowed, dir))
	if !strings.Contains(r.stdout, "ess.tar.zst: signed by ED25519 key "+fp+" (release@example.org, allowed by "+allowed+":1), signed 20") {
		t.Fatalf("verify says:\n%s", r.stdout)
	}
	reg := testregistry.StartT(t)
	must(t, runCmd("unbundle", nil, "push", "--public-key", key+".pub", "--registry", reg.Host, "--configmap", filepath.Join(t.TempDir(), "cm.yaml"), out+".001"))

	// Signed by ssh-keygen itself, over the same checksum file: ours verifies it.
	os.Remove(out + ".sha256.sig")
	run(t, dir, nil, "ssh-keygen", "-Y", "sign", "-f", key, "-n", "ess-airgap-bundle", out+".sha256")
	r = must(t, runCmd("unbundle", nil, "verify", "--public-key", key+".pub", out+".001"))
	if !strings.Contains(r.stdout, "signed by ED25519 key "+fp+" (release@example.org, allowed by "+key+".pub:1)") {
		t.Fatalf("verify of the ssh-keygen signature says:\n%s", r.stdout)
	}

	refused := func(what, want string, args ...string) {
		t.Helper()
		r := runCmd("unbundle", nil, args...)
		if r.code != 3 || !strings.Contains(r.stderr, want) {
			t.Fatalf("%s: exit %d, want 3 and %q:\n%s%s", what, r.code, want, r.stdout, r.stderr)
		}
	}
	// Re-signed by another key (the checksum file is what it was).
	must(t, runCmd("bundle", nil, "sign", "--key", other, dir))
	for _, args := range [][]string{{"verify"}, {"push", "--registry", reg.Host}} {
		refused(args[0]+" of a bundle re-signed by another key", "signed by ED25519 key "+otherFP+", but it is not among the allowed keys",
			append(args, "--public-key", allowed, out+".001")...)
	}
	// A changed checksum file.
	must(t, runCmd("bundle", nil, "sign", "--key", key, dir))
	sums, _ := os.ReadFile(out + ".sha256")
	os.WriteFile(out+".sha256", append(sums, "# an added line\n"...), 0o644)
	refused("verify of a changed checksum file", "does not match the signed file", "verify", "--public-key", allowed, dir)
	os.WriteFile(out+".sha256", sums, 0o644)
	// Unsigned.
	os.Rename(out+".sha256.sig", out+".sig.kept")
	refused("verify of an unsigned bundle", "is not signed: there is no ess.tar.zst.sha256.sig", "verify", "--public-key", allowed, dir)
	os.Rename(out+".sig.kept", out+".sha256.sig")
	// Another bundle (one file) put under the signed checksum file: push refuses it before any
	// blob is read, from the offset table.
	one := filepath.Join(t.TempDir(), "ess.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", w.list, "--output", one, "--exclude", w.images[0].Component))
	os.Rename(out+".sha256", one+".sha256")
	os.Rename(out+".sha256.sig", one+".sha256.sig")
	if r := runCmd("unbundle", nil, "verify", "--public-key", allowed, one); r.code != 3 {
		t.Fatalf("verify of a swapped bundle: exit %d\n%s", r.code, r.stderr)
	}
	refused("push of a swapped bundle", "the bundle is not the one signed", "push", "--public-key", allowed, "--registry", reg.Host, one)
}
