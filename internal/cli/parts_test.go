package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"golang.org/x/crypto/ssh"
)

// newKey writes an ed25519 key pair as ssh-keygen does: NAME (mode 0600) and NAME.pub.
func newKey(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, name)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestSignVerify: bundle sign signs a bundle that verifies and says how to check it; verify
// says, without --public-key, that the signature was not checked and how to; with the key
// (or $ESS_AIRGAP_PUBLIC_KEY) it checks it, and refuses one signed by another key (exit 3).
// A key file that cannot be read is a usage error naming the flag; a bundle that does not
// verify is not signed.
func TestSignVerify(t *testing.T) {
	t.Setenv(publicKeyEnv, "")
	os.Unsetenv(publicKeyEnv) // set back when the test ends
	w := newWorld(t, 131)
	bundle := filepath.Join(w.dir, "s.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", bundle, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	keys := t.TempDir()
	priv, pub := newKey(t, keys, "site")
	_, otherPub := newKey(t, keys, "other")

	if r := runMain("bundle", "", "sign", bundle); r.code != ExitUsage || !strings.Contains(r.stderr, "sign: --key is required") {
		t.Errorf("sign without --key: exit %d: %s", r.code, r.stderr)
	}
	if r := runMain("bundle", "", "sign", "--key", filepath.Join(keys, "nope"), bundle); r.code != ExitError || !strings.Contains(r.stderr, "--key") {
		t.Errorf("sign with a key not there: exit %d: %s", r.code, r.stderr)
	}
	os.Chmod(priv, 0o644)
	if r := runMain("bundle", "", "sign", "--key", priv, bundle); r.code == ExitOK || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("sign with a key others can read: exit %d: %s", r.code, r.stderr)
	}
	os.Chmod(priv, 0o600)
	r := runMain("bundle", "", "sign", "--key", priv, bundle)
	if r.code != ExitOK {
		t.Fatalf("sign: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "sign", r.stdout, "signed "+bundle+".sha256", "ssh-keygen -Y verify", "-n "+trust.SignatureNamespace)
	if _, err := os.Stat(bundle + ".sha256.sig"); err != nil {
		t.Fatal(err)
	}

	r = runMain("unbundle", "", "verify", bundle)
	if r.code != ExitOK {
		t.Fatalf("verify: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "verify", r.stdout, "SIGNATURE NOT CHECKED")
	mustSay(t, "verify", r.stderr, "signature not checked: give --public-key FILE")

	r = runMain("unbundle", "", "verify", "--public-key", pub, bundle)
	if r.code != ExitOK {
		t.Fatalf("verify --public-key: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "verify --public-key", r.stdout, "signature checked", "allowed by "+pub)

	if r := runMain("unbundle", "", "verify", "--public-key", otherPub, bundle); r.code != ExitVerify {
		t.Errorf("another key: exit %d: %s", r.code, r.stderr)
	}
	t.Setenv(publicKeyEnv, otherPub)
	if r := runMain("unbundle", "", "list", bundle); r.code != ExitVerify {
		t.Errorf("$%s of another key: exit %d: %s", publicKeyEnv, r.code, r.stderr)
	}
	t.Setenv(publicKeyEnv, otherPub+","+pub)
	if r := runMain("unbundle", "", "list", bundle); r.code != ExitOK {
		t.Errorf("$%s: exit %d: %s", publicKeyEnv, r.code, r.stderr)
	}
	for _, v := range []string{"", pub + ","} { // set empty (a template's unset variable), or a list ending in a comma
		t.Setenv(publicKeyEnv, v)
		r := runMain("unbundle", "", "verify", bundle)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "an empty file name") || !strings.Contains(r.stderr, "$"+publicKeyEnv) {
			t.Errorf("$%s=%q: exit %d: %s", publicKeyEnv, v, r.code, r.stderr)
		}
	}
	os.Unsetenv(publicKeyEnv)
	r = runMain("unbundle", "", "verify", "--public-key", filepath.Join(keys, "nope.pub"), bundle)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--public-key (or $"+publicKeyEnv+")") {
		t.Errorf("a key file not there: exit %d: %s", r.code, r.stderr)
	}

	unsigned := filepath.Join(w.dir, "u.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", unsigned, "-q"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	r = runMain("unbundle", "", "verify", unsigned)
	mustSay(t, "verify of an unsigned bundle", r.stdout, "u.tar.zst: not signed (no u.tar.zst.sha256.sig beside it): nothing says who made it")
	if r := runMain("unbundle", "", "verify", "--public-key", pub, unsigned); r.code != ExitVerify {
		t.Errorf("an unsigned bundle with --public-key: exit %d: %s", r.code, r.stderr)
	}

	data, _ := os.ReadFile(unsigned)
	data[len(data)/2] ^= 0xff
	os.WriteFile(unsigned, data, 0o644)
	r = runMain("bundle", "", "sign", "--key", priv, unsigned)
	if r.code != ExitVerify || !strings.Contains(r.stderr, "not signed") {
		t.Errorf("sign of a damaged bundle: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(unsigned + ".sha256.sig"); !os.IsNotExist(err) {
		t.Errorf("a damaged bundle was signed: %v", err)
	}
}

// TestCreateSignKey: create --sign-key signs the bundle it wrote.
func TestCreateSignKey(t *testing.T) {
	w := newWorld(t, 132)
	priv, pub := newKey(t, t.TempDir(), "k")
	bundle := filepath.Join(w.dir, "k.tar.zst")
	r := runMain("bundle", "", "create", "--images", w.list, "-o", bundle, "--sign-key", priv)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stdout", r.stdout, "signed "+bundle+".sha256", bundle+".sha256.sig")
	if r := runMain("unbundle", "", "verify", "--public-key", pub, bundle); r.code != ExitOK {
		t.Errorf("verify: exit %d: %s", r.code, r.stderr)
	}
}

func TestPartsSummary(t *testing.T) {
	if got := partsSummary(&parts.Sums{}); got != "one file" {
		t.Errorf("one file: %q", got)
	}
	sums := &parts.Sums{PartSize: 1 << 20, Parts: []string{"a", "b", "c"}}
	if got := partsSummary(sums); !strings.HasPrefix(got, "3 parts of ") || !strings.HasSuffix(got, "(1048576 bytes)") {
		t.Errorf("parts: %q", got)
	}
	sums.Parity = []string{"p"}
	if got := partsSummary(sums); !strings.HasSuffix(got, "(1048576 bytes) and 1 parity parts") {
		t.Errorf("parts and parity: %q", got)
	}
}

// TestBundleArgs: a command that reads a bundle takes its file, parts or directories, and
// refuses a flag among them (urfave/cli would ignore it) and none at all.
func TestBundleArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"list"}, "list: missing bundle argument"},
		{[]string{"verify", "--", "a.tar.zst", "-q"}, `verify: unexpected "-q" after the bundle argument`},
		{[]string{"repair", "--", "-x"}, `repair: unexpected "-x" after the bundle argument`},
	} {
		r := runMain("unbundle", "", tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
	}
}
