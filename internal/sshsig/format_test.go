package sshsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func edSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ecSigner(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge builds an armored signature from b, signing sd with signer when b.Signature is nil.
func forge(t *testing.T, signer ssh.Signer, b blob, sd signedData, prefix string) []byte {
	t.Helper()
	if b.Signature == nil {
		sig, err := signer.Sign(rand.Reader, append([]byte(magic), ssh.Marshal(sd)...))
		if err != nil {
			t.Fatal(err)
		}
		b.Signature = ssh.Marshal(sig)
	}
	return armor(append([]byte(prefix), ssh.Marshal(b)...))
}

// TestVerifyRefuses: every malformed or foreign signature is refused with ErrSignature and
// says why; a sha256 signature (ssh-keygen may make one) is taken.
func TestVerifyRefuses(t *testing.T) {
	ed, ec := edSigner(t), ecSigner(t)
	msg := []byte("message")
	h512 := func() []byte { h, _ := digest("sha512", bytes.NewReader(msg)); return h }()
	h256 := sha256.Sum256(msg)
	good := blob{Version: version, PublicKey: ed.PublicKey().Marshal(), Namespace: ns, HashAlg: "sha512"}
	sd := signedData{Namespace: ns, HashAlg: "sha512", Hash: h512}

	sha256Blob := good
	sha256Blob.HashAlg = "sha256"
	if pub, err := Verify(forge(t, ed, sha256Blob, signedData{Namespace: ns, HashAlg: "sha256", Hash: h256[:]}, magic), ns, bytes.NewReader(msg)); err != nil ||
		!bytes.Equal(pub.Marshal(), ed.PublicKey().Marshal()) {
		t.Fatalf("a sha256 signature: %v", err)
	}

	v2 := good
	v2.Version = 2
	ecBlob := good
	ecBlob.PublicKey = ec.PublicKey().Marshal()
	md5 := good
	md5.HashAlg = "md5"
	badKey := good
	badKey.PublicKey = []byte("not a key")
	otherNS := good
	otherNS.Namespace = "file"
	notEd := good
	notEd.Signature = ssh.Marshal(ssh.Signature{Format: "rsa-sha2-512", Blob: []byte("x")})
	garbageSig := good
	garbageSig.Signature = []byte{1, 2, 3}
	wrongSD := sd
	wrongSD.Namespace = "file" // signed for another namespace than the blob says

	cases := []struct {
		name string
		sig  []byte
		want string
	}{
		{"not armored", []byte("hello"), "not an armored SSH signature"},
		{"armor only", []byte(armorBegin + "\n" + armorEnd + "\n"), "not an SSH signature"},
		{"bad base64", []byte(armorBegin + "\n!!!!\n" + armorEnd), "armored signature"},
		{"wrong magic", forge(t, ed, good, sd, "SSHSIX"), "not an SSH signature"},
		{"version 2", forge(t, ed, v2, sd, magic), "version 2"},
		{"bad public key", forge(t, ed, badKey, sd, magic), "its public key"},
		{"an ECDSA key", forge(t, ec, ecBlob, sd, magic), "only ed25519 keys are taken"},
		{"another namespace", forge(t, ed, otherNS, signedData{Namespace: "file", HashAlg: "sha512", Hash: h512}, magic), `made for namespace "file"`},
		{"not an ed25519 signature", forge(t, ed, notEd, sd, magic), "not an ed25519 signature"},
		{"garbage signature", forge(t, ed, garbageSig, sd, magic), "not an ed25519 signature"},
		{"md5", forge(t, ed, md5, sd, magic), `hash algorithm "md5"`},
		{"signed data of another namespace", forge(t, ed, good, wrongSD, magic), "does not match the signed file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.sig, ns, bytes.NewReader(msg))
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrSignature saying %q", err, c.want)
			}
		})
	}
}

// TestSignRefuses: only ed25519 keys sign, and only under a namespace.
func TestSignRefuses(t *testing.T) {
	if _, err := Sign(ecSigner(t), ns, strings.NewReader("m")); err == nil || !strings.Contains(err.Error(), "only ed25519") {
		t.Errorf("an ECDSA key: %v", err)
	}
	if _, err := Sign(edSigner(t), "", strings.NewReader("m")); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("no namespace: %v", err)
	}
}

// TestArmor: lines of at most 70 characters between the markers, read back whatever the line
// endings and surrounding space.
func TestArmor(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab, 0xcd, 0xef}, 100)
	a := armor(raw)
	lines := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
	if lines[0] != armorBegin || lines[len(lines)-1] != armorEnd || len(lines) != 2+(400+69)/70 {
		t.Fatalf("armor:\n%s", a)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) > 70 {
			t.Errorf("line of %d characters", len(l))
		}
	}
	for _, variant := range [][]byte{a, bytes.ReplaceAll(a, []byte("\n"), []byte("\r\n")), append([]byte("\n  "), append(a, "\n\n"...)...)} {
		back, err := unarmor(variant)
		if err != nil || !bytes.Equal(back, raw) {
			t.Errorf("unarmor: %v", err)
		}
	}
}

// TestSignVerifyRoundTrip: a signature verifies for the message and namespace signed, and
// names the signer's key.
func TestSignVerifyRoundTrip(t *testing.T) {
	s := edSigner(t)
	sig, err := Sign(s, ns, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := Verify(sig, ns, strings.NewReader("payload"))
	if err != nil || ID(pub) != ID(s.PublicKey()) || !strings.HasPrefix(ID(pub), "ED25519 key SHA256:") {
		t.Fatalf("%v, %s", err, ID(pub))
	}
	if _, err := Verify(sig, ns, strings.NewReader("payload!")); !errors.Is(err, ErrSignature) {
		t.Errorf("another message: %v", err)
	}
}

// TestParseSSHTime: ssh-keygen's forms: a day, a minute, a second; local time unless Z.
func TestParseSSHTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20260102Z", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{"202601020304Z", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), true},
		{"20260102030405Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"20260102", time.Date(2026, 1, 2, 0, 0, 0, 0, time.Local), true},
		{"2026010203", time.Time{}, false},
		{"2026-01-02", time.Time{}, false},
		{"20261302Z", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, c := range cases {
		got, err := parseSSHTime(c.in)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("parseSSHTime(%q) = %s, %v", c.in, got, err)
		}
	}
}

// TestParseAllowedLines: comments and blank lines are skipped, each key names its file and
// line, options with quoted commas are read, and a bad line is refused naming its line.
func TestParseAllowedLines(t *testing.T) {
	a, b := edSigner(t).PublicKey(), edSigner(t).PublicKey()
	line := func(k ssh.PublicKey) string { return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) }
	data := "# allowed signers\n\nops@x,dev@x namespaces=\"file,ess\",valid-after=\"20260101Z\" " + line(a) + " a comment\n" +
		"   \n" + line(b) + " b@host\n"
	got, err := ParseAllowed("signers", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Source != "signers:3" || got[1].Source != "signers:5" {
		t.Fatalf("%+v", got)
	}
	if strings.Join(got[0].Principals, " ") != "ops@x dev@x" || strings.Join(got[0].Namespaces, " ") != "file ess" ||
		!got[0].ValidAfter.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !bytes.Equal(got[0].Key.Marshal(), a.Marshal()) {
		t.Errorf("allowed_signers line: %+v", got[0])
	}
	if strings.Join(got[1].Principals, " ") != "b@host" || !bytes.Equal(got[1].Key.Marshal(), b.Marshal()) {
		t.Errorf("public key line: %+v", got[1])
	}
	for _, c := range []struct{ data, want string }{
		{"", "f: no public key in it"},
		{"# only\n", "f: no public key in it"},
		{"ops@x " + line(a)[:20] + "\n", "f:1: not a public key"},
		{"ops@x\n", "f:1: not a public key, nor an allowed_signers line"}, // principals and no key
		{"# c\nops@x unknown=1 " + line(a), `f:2: unknown option "unknown"`},
		{"ops@x valid-before=\"tomorrow\" " + line(a), "f:1: valid-before"},
		{"ssh-ed25519 AAAA!!", "f:1:"},
	} {
		if _, err := ParseAllowed("f", []byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseAllowed(%q): %v, want %q", c.data, err, c.want)
		}
	}
}

// TestFind: the first entry of the key that allows the namespace at that time; a time at
// valid-before is past it; the reason names the entry that refused.
func TestFind(t *testing.T) {
	k := edSigner(t).PublicKey()
	until := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	allowed := []Allowed{
		{Key: edSigner(t).PublicKey(), Source: "f:1"},
		{Key: k, Namespaces: []string{"file"}, Source: "f:2"},
		{Key: k, ValidUntil: until, Source: "f:3"},
	}
	a, err := Find(allowed, k, ns, until.Add(-time.Second))
	if err != nil || a.Source != "f:3" {
		t.Fatalf("%+v, %v", a, err)
	}
	if _, err := Find(allowed, k, ns, until); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "f:3 made it valid until 2026-06-01T00:00:00Z") {
		t.Errorf("at valid-before: %v", err)
	}
	if _, err := Find(allowed[:2], k, ns, until); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "f:2 allows it for file only") {
		t.Errorf("namespace: %v", err)
	}
	if _, err := Find(allowed[:1], k, ns, until); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "not among the allowed keys") {
		t.Errorf("not listed: %v", err)
	}
}

// TestLoadSignerRefuses: a missing file, a key of another type, a public key without an agent.
func TestLoadSignerRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSigner(filepath.Join(dir, "none"), noPassphrase); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "ec")
	if err != nil {
		t.Fatal(err)
	}
	ecPath := filepath.Join(dir, "id_ecdsa")
	os.WriteFile(ecPath, pem.EncodeToMemory(block), 0o600)
	if _, err := LoadSigner(ecPath, noPassphrase); err == nil || !strings.Contains(err.Error(), "only ed25519 keys sign bundles") {
		t.Errorf("an ECDSA key: %v", err)
	}
	pubPath := filepath.Join(dir, "id.pub")
	os.WriteFile(pubPath, ssh.MarshalAuthorizedKey(edSigner(t).PublicKey()), 0o644)
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := LoadSigner(pubPath, noPassphrase); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") {
		t.Errorf("a public key without an agent: %v", err)
	}
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(dir, "no.sock"))
	if _, err := LoadSigner(pubPath, noPassphrase); err == nil || !strings.Contains(err.Error(), "ssh-agent") {
		t.Errorf("a public key, no agent listening: %v", err)
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	if _, err := LoadSigner(garbage, noPassphrase); err == nil || !strings.Contains(err.Error(), garbage) {
		t.Errorf("garbage: %v", err)
	}
}
