package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Addresses the trusted root names; nothing listens there.
const (
	FulcioURL = "https://fulcio.sigstoretest.invalid"
	RekorURL  = "https://rekor.sigstoretest.invalid"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions' tokens, as Fulcio records it.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Sigstore is a certificate authority and a transparency log key. Safe for concurrent use.
type Sigstore struct {
	Root, Intermediate *x509.Certificate
	interKey           *ecdsa.PrivateKey
	rekorKey           *ecdsa.PrivateKey
	logID              []byte // sha256 of the log key's PKIX form, as Rekor names its logs

	mu   sync.Mutex
	next int64 // the next log index
}

// New makes a Sigstore whose root and intermediate are valid from a day ago for ten years.
func New() (*Sigstore, error) {
	now := time.Now().Truncate(time.Second)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	s := &Sigstore{next: 1000}
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sigstoretest", Organization: []string{"sigstoretest"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.AddDate(10, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true}
	if s.Root, err = create(rootT, rootT, &rootKey.PublicKey, rootKey); err != nil {
		return nil, err
	}
	if s.interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	interT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sigstoretest-intermediate", Organization: []string{"sigstoretest"}},
		NotBefore: rootT.NotBefore, NotAfter: rootT.NotAfter, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, BasicConstraintsValid: true, IsCA: true}
	if s.Intermediate, err = create(interT, s.Root, &s.interKey.PublicKey, rootKey); err != nil {
		return nil, err
	}
	if s.rekorKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&s.rekorKey.PublicKey)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(pub)
	s.logID = id[:]
	return s, nil
}

// TrustedRoot is the instance's trusted_root.json (media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1): the CA and the log key, valid
// from the root's start with no end. It lists no CT log, so verifiers expect no SCTs.
func (s *Sigstore) TrustedRoot() ([]byte, error) {
	ca := &root.FulcioCertificateAuthority{Root: s.Root, Intermediates: []*x509.Certificate{s.Intermediate},
		ValidityPeriodStart: s.Root.NotBefore, URI: FulcioURL}
	tl := &root.TransparencyLog{BaseURL: RekorURL, ID: s.logID, ValidityPeriodStart: s.Root.NotBefore,
		HashFunc: crypto.SHA256, PublicKey: &s.rekorKey.PublicKey, SignatureHashFunc: crypto.SHA256}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{ca}, nil, nil,
		map[string]*root.TransparencyLog{hex.EncodeToString(s.logID): tl})
	if err != nil {
		return nil, err
	}
	return json.Marshal(tr)
}

// Signer holds a key and, for keyless signing, the short-lived certificate the CA issued for it.
type Signer struct {
	Cert *x509.Certificate // nil for a plain key
	key  *ecdsa.PrivateKey
}

// Keyless issues a certificate for identity (a URI such as a GitHub workflow ref, else an
// e-mail address) from issuer (the OIDC issuer extension), valid from notBefore for lifetime
// (Fulcio: 10 minutes).
func (s *Sigstore) Keyless(identity, issuer string, notBefore time.Time, lifetime time.Duration) (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issuerDER, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{SerialNumber: serial, NotBefore: notBefore, NotAfter: notBefore.Add(lifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(issuer)}, // Fulcio's first issuer extension
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerDER},      // its DER-encoded successor
		}}
	if u, err := url.Parse(identity); err == nil && u.Scheme != "" && u.Host != "" {
		t.URIs = []*url.URL{u}
	} else {
		t.EmailAddresses = []string{identity}
	}
	cert, err := create(t, s.Intermediate, &key.PublicKey, s.interKey)
	if err != nil {
		return nil, err
	}
	return &Signer{Cert: cert, key: key}, nil
}

// NewKey makes a signer with a plain ECDSA P-256 key, as `cosign generate-key-pair` makes.
func NewKey() (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key}, nil
}

// PublicKeyPEM is the PEM of the signer's public key (cosign verify --key FILE).
func (sg *Signer) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&sg.key.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// CertPEM is the PEM of the signer's certificate; nil for a plain key.
func (sg *Signer) CertPEM() []byte {
	if sg.Cert == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sg.Cert.Raw})
}

// ChainPEM is the CA's chain above a leaf, intermediate then root, as cosign's chain
// annotation carries it.
func (s *Sigstore) ChainPEM() []byte {
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Intermediate.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw})...)
}

// sign signs data's sha256 with the signer's key (ASN.1 ECDSA, as cosign signs).
func (sg *Signer) sign(data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return ecdsa.SignASN1(rand.Reader, sg.key, h[:])
}

// verifierPEM is what a Rekor entry records of the signer: its certificate, else its key.
func (sg *Signer) verifierPEM() []byte {
	if sg.Cert != nil {
		return sg.CertPEM()
	}
	return sg.PublicKeyPEM()
}

func (s *Sigstore) logIndex() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return s.next
}

func create(t, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("sigstoretest: %w", err)
	}
	return x509.ParseCertificate(der)
}
