package sshsig

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const ns = "ess-airgap-test"

// keygen makes an ed25519 key pair with ssh-keygen and returns the private key's path.
func keygen(t *testing.T, dir, name, passphrase string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen not installed (Debian: openssh-client): %v", err)
	}
	p := filepath.Join(dir, name)
	run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name+"@test", "-f", p)
	return p
}

func run(t *testing.T, stdin []byte, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func noPassphrase() ([]byte, error) { return nil, errors.New("no passphrase") }

func allowedSigners(t *testing.T, dir, principal, pubPath, options string) string {
	t.Helper()
	pub, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "allowed_signers")
	line := principal + " " + options + " " + strings.TrimSpace(string(pub))
	if err := os.WriteFile(p, []byte(strings.Join(strings.Fields(line), " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOursVerifiedBySSHKeygen: a signature we make is one ssh-keygen -Y verify accepts, for the
// message signed and for nothing else.
func TestOursVerifiedBySSHKeygen(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "signer", "")
	signer, err := LoadSigner(key, noPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("0123  bundle.tar.zst\n# a line\n")
	sig, err := Sign(signer, ns, bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	sigPath := filepath.Join(dir, "msg.sig")
	os.WriteFile(sigPath, sig, 0o644)
	allowed := allowedSigners(t, dir, "ops@example.org", key+".pub", "")
	out := run(t, msg, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ops@example.org", "-n", ns, "-s", sigPath)
	if !strings.Contains(out, `Good "`+ns+`" signature for ops@example.org`) {
		t.Fatalf("ssh-keygen: %s", out)
	}
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ops@example.org", "-n", ns, "-s", sigPath)
	cmd.Stdin = bytes.NewReader(append(msg, 'x'))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("ssh-keygen verified a changed message: %s", out)
	}
}

// TestSSHKeygenVerifiedByUs: a signature made by ssh-keygen -Y sign (encrypted key) verifies
// here, names its key, and fails for a changed message, another namespace or a key not allowed.
func TestSSHKeygenVerifiedByUs(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "signer", "s3cret phrase")
	msgPath := filepath.Join(dir, "msg")
	msg := []byte("signed content\n")
	os.WriteFile(msgPath, msg, 0o644)
	// ssh-keygen reads the passphrase from a terminal only: give it the key decrypted.
	plain := filepath.Join(dir, "plain")
	data, _ := os.ReadFile(key)
	os.WriteFile(plain, data, 0o600)
	run(t, nil, "ssh-keygen", "-q", "-p", "-P", "s3cret phrase", "-N", "", "-f", plain)
	run(t, nil, "ssh-keygen", "-Y", "sign", "-f", plain, "-n", ns, msgPath)
	sig, err := os.ReadFile(msgPath + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := Verify(sig, ns, bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	pubData, _ := os.ReadFile(key + ".pub")
	allowed, err := ParseAllowed("signer.pub", pubData)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Find(allowed, pub, ns, time.Now())
	if err != nil || a.Principals[0] != "signer@test" {
		t.Fatalf("Find = %+v, %v", a, err)
	}
	fp := strings.Fields(run(t, nil, "ssh-keygen", "-l", "-f", key+".pub"))[1]
	if !strings.Contains(ID(pub), fp) {
		t.Fatalf("ID %q, ssh-keygen -l says %s", ID(pub), fp)
	}
	// The encrypted key itself loads with its passphrase, and not without.
	if _, err := LoadSigner(key, func() ([]byte, error) { return []byte("s3cret phrase"), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(key, noPassphrase); err == nil {
		t.Fatal("an encrypted key loaded without its passphrase")
	}
	if _, err := Verify(sig, ns, bytes.NewReader(append(msg, 'x'))); !errors.Is(err, ErrSignature) {
		t.Fatalf("changed message: %v", err)
	}
	if _, err := Verify(sig, "other", bytes.NewReader(msg)); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("other namespace: %v", err)
	}
	other := keygen(t, dir, "other", "")
	otherPub, _ := os.ReadFile(other + ".pub")
	notAllowed, _ := ParseAllowed("other.pub", otherPub)
	if _, err := Find(notAllowed, pub, ns, time.Now()); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("a key not allowed: %v", err)
	}
}

// TestAllowedSigners: the allowed_signers options are honoured.
func TestAllowedSigners(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k", "")
	pubData, _ := os.ReadFile(key + ".pub")
	pub, _, _, _, _ := ssh.ParseAuthorizedKey(pubData)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		options string
		ok      bool
	}{
		{"", true},
		{`namespaces="file,` + ns + `"`, true},
		{`namespaces="file"`, false},
		{`valid-after="20260101Z",valid-before="20270101Z"`, true},
		{`valid-before="20260101Z"`, false},
		{`valid-after="202607010000Z"`, false},
	} {
		p := allowedSigners(t, dir, "a@x,b@x", key+".pub", tc.options)
		data, _ := os.ReadFile(p)
		allowed, err := ParseAllowed(p, data)
		if err != nil {
			t.Fatalf("%s: %v", tc.options, err)
		}
		a, err := Find(allowed, pub, ns, now)
		if (err == nil) != tc.ok || (tc.ok && strings.Join(a.Principals, ",") != "a@x,b@x") {
			t.Fatalf("options %s: %+v, %v", tc.options, a, err)
		}
	}
	if _, err := ParseAllowed("x", []byte("a@x cert-authority "+string(pubData))); err == nil {
		t.Fatal("cert-authority accepted")
	}
	os.Chmod(key, 0o644)
	if _, err := LoadSigner(key, noPassphrase); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable private key: %v", err)
	}
}

// TestAgent: a public key file signs through the ssh-agent that holds its private key.
func TestAgent(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "agentkey", "")
	sock := filepath.Join(dir, "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	defer func() { agentCmd.Process.Kill(); agentCmd.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	if _, err := LoadSigner(key+".pub", noPassphrase); err == nil || !strings.Contains(err.Error(), "ssh-add") {
		t.Fatalf("an agent without the key: %v", err)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	signer, err := LoadSigner(key+".pub", noPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(signer, ns, strings.NewReader("m"))
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := Verify(sig, ns, strings.NewReader("m")); err != nil || ssh.FingerprintSHA256(pub) != ssh.FingerprintSHA256(signer.PublicKey()) {
		t.Fatalf("Verify: %v", err)
	}
}
