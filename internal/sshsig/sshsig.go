package sshsig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ErrSignature is wrapped by every error about a signature that does not verify.
var ErrSignature = errors.New("bad signature")

const (
	magic      = "SSHSIG"
	version    = 1
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
)

// blob is the signature after the magic (PROTOCOL.sshsig, section 2).
type blob struct {
	Version   uint32
	PublicKey []byte
	Namespace string
	Reserved  []byte
	HashAlg   string
	Signature []byte
}

// signedData is what the key signs, after the magic (section 3).
type signedData struct {
	Namespace string
	Reserved  []byte
	HashAlg   string
	Hash      []byte
}

// Sign signs the message read from r under namespace with an ed25519 signer (sha512, as
// ssh-keygen does) and returns the armored signature, as `ssh-keygen -Y sign -n namespace`
// writes it.
func Sign(signer ssh.Signer, namespace string, r io.Reader) ([]byte, error) {
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("signing key is %s: only ed25519 keys are used (ssh-keygen -t ed25519)", t)
	}
	if namespace == "" {
		return nil, errors.New("sshsig: empty namespace")
	}
	h, err := digest("sha512", r)
	if err != nil {
		return nil, err
	}
	sd := signedData{Namespace: namespace, HashAlg: "sha512", Hash: h}
	sig, err := signer.Sign(rand.Reader, append([]byte(magic), ssh.Marshal(sd)...))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b := blob{Version: version, PublicKey: signer.PublicKey().Marshal(), Namespace: namespace, HashAlg: "sha512",
		Signature: ssh.Marshal(sig)}
	return armor(append([]byte(magic), ssh.Marshal(b)...)), nil
}

// Verify checks an armored signature of the message read from r under namespace and returns
// the key that made it. Only ed25519 signatures are taken. Whether that key is one to trust is
// the caller's question (see Allowed). Errors wrap ErrSignature.
func Verify(armored []byte, namespace string, r io.Reader) (ssh.PublicKey, error) {
	raw, err := unarmor(armored)
	if err != nil {
		return nil, err
	}
	var b blob
	if !bytes.HasPrefix(raw, []byte(magic)) || ssh.Unmarshal(raw[len(magic):], &b) != nil {
		return nil, fmt.Errorf("%w: not an SSH signature", ErrSignature)
	}
	if b.Version != version {
		return nil, fmt.Errorf("%w: SSH signature version %d, this tool reads %d", ErrSignature, b.Version, version)
	}
	pub, err := ssh.ParsePublicKey(b.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: its public key: %v", ErrSignature, err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return pub, fmt.Errorf("%w: made by a %s key; only ed25519 keys are taken", ErrSignature, pub.Type())
	}
	if b.Namespace != namespace {
		return pub, fmt.Errorf("%w: made for namespace %q, not %q", ErrSignature, b.Namespace, namespace)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(b.Signature, &sig); err != nil || sig.Format != ssh.KeyAlgoED25519 {
		return pub, fmt.Errorf("%w: not an ed25519 signature", ErrSignature)
	}
	h, err := digest(b.HashAlg, r)
	if err != nil {
		return pub, err
	}
	sd := signedData{Namespace: namespace, HashAlg: b.HashAlg, Hash: h}
	if err := pub.Verify(append([]byte(magic), ssh.Marshal(sd)...), &sig); err != nil {
		return pub, fmt.Errorf("%w: it does not match the signed file (changed after it was signed?)", ErrSignature)
	}
	return pub, nil
}

func digest(alg string, r io.Reader) ([]byte, error) {
	var h hash.Hash
	switch alg {
	case "sha512":
		h = sha512.New()
	case "sha256":
		h = sha256.New()
	default:
		return nil, fmt.Errorf("%w: hash algorithm %q", ErrSignature, alg)
	}
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// armor wraps a signature as ssh-keygen does: base64 in lines of 70 characters.
func armor(raw []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(raw)
	var out bytes.Buffer
	out.WriteString(armorBegin + "\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n" + armorEnd + "\n")
	return out.Bytes()
}

func unarmor(armored []byte) ([]byte, error) {
	s := strings.TrimSpace(string(armored))
	if !strings.HasPrefix(s, armorBegin) || !strings.HasSuffix(s, armorEnd) {
		return nil, fmt.Errorf("%w: not an armored SSH signature (%s ... %s)", ErrSignature, armorBegin, armorEnd)
	}
	body := strings.Join(strings.Fields(s[len(armorBegin):len(s)-len(armorEnd)]), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: armored signature: %v", ErrSignature, err)
	}
	return raw, nil
}
