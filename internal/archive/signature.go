package archive

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/atomicfile"
	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

// A bundle is signed by signing its checksum file, NAME.tar.zst.sha256, as it is: the signature,
// NAME.tar.zst.sha256.sig, is OpenSSH's (SSHSIG, ed25519), which `ssh-keygen -Y verify -n
// ess-airgap-bundle` checks with no tool of ours. The checksum file lists the sha256 of the
// bundle or of every part, and of the offset table, which names every entry's digest: so the
// signature covers every byte a reader hands on.

// SignatureNamespace is the SSHSIG namespace of bundle signatures (ssh-keygen -n).
const SignatureNamespace = "ess-airgap-bundle"

// ErrSignature is wrapped by every error about a bundle that is unsigned, or not signed by an
// allowed key, or whose content is not what was signed.
var ErrSignature = errors.New("bundle signature refused")

// Signature is who signed a bundle, as CheckSignature found it.
type Signature struct {
	Key        string    // the key's type and SHA256 fingerprint, as ssh-keygen -l shows it
	Principals []string  // what the allowed key file says of it
	Source     string    // the allowed key's FILE:LINE
	Signed     time.Time // when, as the signed checksum file records it; zero when it does not
}

// Sign records the time in the checksum file of the bundle (a "# signed:" line), rewrites it,
// and writes its signature NAME.tar.zst.sha256.sig with signer. The caller has checked the
// bundle against the checksum file (bundle sign verifies it; bundle create has just written
// both). A bundle from an older tool gets its size and offset table digest recorded first.
func Sign(s *Set, signer ssh.Signer, now time.Time) error {
	if s.Sums == nil {
		return fmt.Errorf("%s: no checksum file %s.sha256 to sign", s.Name, s.Name)
	}
	sums := *s.Sums
	if sums.Table == "" || sums.Size == 0 {
		b, err := OpenSet(s)
		if err != nil {
			return err
		}
		sums.Table, sums.Size = b.tab.digest, b.size
		b.Close()
	}
	sums.Signed = now.UTC().Truncate(time.Second)
	data := sums.Marshal()
	sig, err := sshsig.Sign(signer, SignatureNamespace, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.SumsPath, data, 0o644); err != nil {
		return err
	}
	s.Sums = &sums
	return atomicfile.WriteFile(s.SumsPath+".sig", sig, 0o644)
}

// checkSignature checks that the checksum file of the bundle is signed by one of allowed, before
// anything of the bundle is read, and returns who signed. The checksum file checked replaces
// s.Sums, so that what is compared with the bundle afterwards (Set.checkSigned, VerifySet) is
// what was signed. Errors wrap ErrSignature and, once the signature itself verified, name its key.
func checkSignature(s *Set, allowed []sshsig.Allowed, now time.Time) (*Signature, error) {
	if s.SumsPath == "" {
		return nil, fmt.Errorf("%w: %s is not signed: there is no checksum file %s.sha256 beside it", ErrSignature, s.Name, s.Name)
	}
	data, err := readSmall(s.SumsPath, maxSumsSize)
	if err != nil {
		return nil, err
	}
	sig, err := readSmall(s.SumsPath+".sig", maxSigSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is not signed: there is no %s beside it", ErrSignature, s.Name, filepath.Base(s.SumsPath)+".sig")
	}
	if err != nil {
		return nil, err
	}
	key, err := sshsig.Verify(sig, SignatureNamespace, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSignature, filepath.Base(s.SumsPath)+".sig", err)
	}
	a, err := sshsig.Find(allowed, key, SignatureNamespace, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSignature, s.Name, err)
	}
	sums, err := parseSums(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.SumsPath, err)
	}
	if sums.Name != s.Name {
		return nil, fmt.Errorf("%w: %s is the signed checksum file of %s", ErrSignature, s.SumsPath, sums.Name)
	}
	s.Sums = sums
	return &Signature{Key: sshsig.ID(key), Principals: a.Principals, Source: a.Source, Signed: sums.Signed}, nil
}
