package trust

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/atomicfile"
	"github.com/element-hq/ess-airgap/internal/sshsig"
	"golang.org/x/crypto/ssh"
)

// SignatureNamespace is the SSHSIG namespace of bundle signatures (ssh-keygen -n).
const SignatureNamespace = "ess-airgap-bundle"

// Signature is who signed a bundle, as Find found it.
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
		sums.Table, sums.Size = b.TableDigest(), b.Size()
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
	data, err := parts.ReadSmall(s.SumsPath, parts.MaxSumsSize)
	if err != nil {
		return nil, err
	}
	sig, err := parts.ReadSmall(s.SumsPath+".sig", maxSigSize)
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
	sums, err := parts.ParseSums(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.SumsPath, err)
	}
	if sums.Name != s.Name {
		return nil, fmt.Errorf("%w: %s is the signed checksum file of %s", ErrSignature, s.SumsPath, sums.Name)
	}
	s.Sums = sums
	return &Signature{Key: sshsig.ID(key), Principals: a.Principals, Source: a.Source, Signed: sums.Signed}, nil
}
