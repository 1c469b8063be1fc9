package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

// Names of the files that vouch for the others.
const (
	SumsName = "SHA256SUMS"
	SigName  = "SHA256SUMS.sig"
	// Namespace is the SSHSIG namespace of a release's signature:
	// ssh-keygen -Y verify -n ess-airgap-release.
	Namespace = "ess-airgap-release"
)

// WriteSums writes dir/SHA256SUMS: one "HEX  NAME" line per file of dir (sorted by name,
// SHA256SUMS and its signature left out), as sha256sum writes them, so that
// `sha256sum -c SHA256SUMS` checks a release with no tool of ours.
func WriteSums(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != SumsName && e.Name() != SigName {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		sum, err := fileSum(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "%s  %s\n", sum, n)
	}
	return buf.Bytes(), os.WriteFile(filepath.Join(dir, SumsName), buf.Bytes(), 0o644)
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Sign writes dir/SHA256SUMS.sig, the armored OpenSSH signature (SSHSIG, ed25519, sha512) of
// dir/SHA256SUMS in namespace ess-airgap-release. Ed25519 signatures are deterministic: the
// same key and sums give the same file.
func Sign(dir string, signer ssh.Signer) error {
	sums, err := os.ReadFile(filepath.Join(dir, SumsName))
	if err != nil {
		return err
	}
	sig, err := sshsig.Sign(signer, Namespace, bytes.NewReader(sums))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, SigName), sig, 0o644)
}
