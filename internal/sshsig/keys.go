package sshsig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Allowed is a key trusted to sign, as a public key file or an allowed_signers line gives it.
type Allowed struct {
	Key        ssh.PublicKey
	Principals []string // the allowed_signers principals; a public key file's comment
	Namespaces []string // namespaces="...": the only ones it may sign for; none: any
	ValidAfter time.Time
	ValidUntil time.Time // valid-before
	Source     string    // FILE:LINE
}

// ID names a key as `ssh-keygen -l` does: its type and SHA256 fingerprint.
func ID(k ssh.PublicKey) string {
	return strings.ToUpper(strings.TrimPrefix(k.Type(), "ssh-")) + " key " + ssh.FingerprintSHA256(k)
}

// ParseAllowed reads the keys of a public key file (one or more `TYPE BASE64 COMMENT` lines, as
// in id_ed25519.pub or authorized_keys) or of an allowed_signers file (`PRINCIPALS [OPTIONS]
// TYPE BASE64`, see ssh-keygen(1)); name is for errors. Of the allowed_signers options,
// namespaces, valid-after and valid-before are honoured; cert-authority (certificates) is refused.
func ParseAllowed(name string, data []byte) ([]Allowed, error) {
	var out []Allowed
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a := Allowed{Source: fmt.Sprintf("%s:%d", name, n)}
		if isKeyType(line) { // a public key file's line: TYPE BASE64 COMMENT
			k, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", a.Source, err)
			}
			a.Key = k
			if comment != "" {
				a.Principals = []string{comment}
			}
			out = append(out, a)
			continue
		}
		// An allowed_signers line: PRINCIPALS [OPTIONS] TYPE BASE64 [COMMENT].
		principals, rest, _ := strings.Cut(line, " ")
		a.Principals = strings.Split(principals, ",")
		rest = strings.TrimSpace(rest)
		if rest != "" && !isKeyType(rest) {
			opts, after := cutOptions(rest)
			if err := a.setOptions(opts); err != nil {
				return nil, fmt.Errorf("%s: %v", a.Source, err)
			}
			rest = strings.TrimSpace(after)
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("%s: not a public key, nor an allowed_signers line: %v", a.Source, err)
		}
		a.Key = k
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no public key in it", name)
	}
	return out, nil
}

func isKeyType(s string) bool {
	t, _, _ := strings.Cut(s, " ")
	return strings.HasPrefix(t, "ssh-") || strings.HasPrefix(t, "ecdsa-") || strings.HasPrefix(t, "sk-")
}

// cutOptions splits off the options field: up to the first space outside double quotes.
func cutOptions(s string) (opts []string, rest string) {
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			opts = append(opts, s[start:i])
			start = i + 1
		case r == ' ' && !quoted:
			return append(opts, s[start:i]), s[i:]
		}
	}
	return append(opts, s[start:]), ""
}

func (a *Allowed) setOptions(opts []string) error {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		v = strings.Trim(v, `"`)
		var err error
		switch strings.ToLower(k) {
		case "namespaces":
			a.Namespaces = strings.Split(v, ",")
		case "valid-after":
			a.ValidAfter, err = parseSSHTime(v)
		case "valid-before":
			a.ValidUntil, err = parseSSHTime(v)
		case "cert-authority":
			return errors.New("cert-authority: certificates are not supported; list the signing key itself")
		default:
			return fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	return nil
}

// parseSSHTime reads YYYYMMDD[HHMM[SS]][Z] (local time unless Z), as ssh-keygen does.
func parseSSHTime(s string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(s, "Z") {
		s, loc = strings.TrimSuffix(s, "Z"), time.UTC
	}
	for _, layout := range []string{"20060102", "200601021504", "20060102150405"} {
		if len(s) == len(layout) {
			return time.ParseInLocation(layout, s, loc)
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not YYYYMMDD[HHMM[SS]][Z]", s)
}

// Find returns the allowed entry for key k that may sign for namespace at time now.
func Find(allowed []Allowed, k ssh.PublicKey, namespace string, now time.Time) (*Allowed, error) {
	var why string
	for i, a := range allowed {
		if !bytes.Equal(a.Key.Marshal(), k.Marshal()) {
			continue
		}
		switch {
		case len(a.Namespaces) > 0 && !contains(a.Namespaces, namespace):
			why = fmt.Sprintf("%s allows it for %s only", a.Source, strings.Join(a.Namespaces, ","))
		case !a.ValidAfter.IsZero() && now.Before(a.ValidAfter):
			why = fmt.Sprintf("%s makes it valid from %s", a.Source, a.ValidAfter.Format(time.RFC3339))
		case !a.ValidUntil.IsZero() && !now.Before(a.ValidUntil):
			why = fmt.Sprintf("%s made it valid until %s", a.Source, a.ValidUntil.Format(time.RFC3339))
		default:
			return &allowed[i], nil
		}
	}
	if why == "" {
		why = "it is not among the allowed keys"
	}
	return nil, fmt.Errorf("%w: signed by %s, but %s", ErrSignature, ID(k), why)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// LoadSigner reads an ed25519 signing key from path: an OpenSSH private key file (mode 0600 or
// stricter; when it is encrypted, passphrase is asked for it), or a public key file whose
// private key an ssh-agent ($SSH_AUTH_SOCK) holds, so that the private key never leaves the
// agent (or the hardware token behind it).
func LoadSigner(path string, passphrase func() ([]byte, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		return agentSigner(path, pub)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: a private key readable by others (mode %04o): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		pass, perr := passphrase()
		if perr != nil {
			return nil, fmt.Errorf("%s is encrypted: %w", path, perr)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, pass)
		clear(pass)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%s is a %s key: only ed25519 keys sign bundles (ssh-keygen -t ed25519)", path, t)
	}
	return signer, nil
}

func agentSigner(path string, pub ssh.PublicKey) (ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, fmt.Errorf("%s is a public key: its private key is to be in an ssh-agent, and SSH_AUTH_SOCK is not set", path)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			if pub.Type() != ssh.KeyAlgoED25519 {
				conn.Close()
				return nil, fmt.Errorf("%s is a %s key: only ed25519 keys sign bundles", path, pub.Type())
			}
			return s, nil // the connection lives as long as the process: one signature
		}
	}
	conn.Close()
	return nil, fmt.Errorf("ssh-agent holds no private key for %s (%s): ssh-add it", path, ID(pub))
}
