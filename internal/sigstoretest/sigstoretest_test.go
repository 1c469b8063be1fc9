package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	fulcio "github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

const (
	workflow = "https://github.com/element-hq/synapse/.github/workflows/docker.yml@refs/tags/v1.0.0"
	digest   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

func newSigstore(t *testing.T) (*Sigstore, *root.TrustedRoot) {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		t.Fatalf("sigstore-go does not read the trusted root: %v", err)
	}
	return s, tr
}

// TestTrustedRoot: sigstore-go reads the trusted root: one CA (the root and intermediate) at
// FulcioURL, one Rekor log named by the sha256 of its key, no CT log.
func TestTrustedRoot(t *testing.T) {
	s, tr := newSigstore(t)
	cas := tr.FulcioCertificateAuthorities()
	if len(cas) != 1 {
		t.Fatalf("%d certificate authorities", len(cas))
	}
	fca, ok := cas[0].(*root.FulcioCertificateAuthority)
	if !ok || !fca.Root.Equal(s.Root) || len(fca.Intermediates) != 1 || !fca.Intermediates[0].Equal(s.Intermediate) || fca.URI != FulcioURL {
		t.Fatalf("CA %+v", cas[0])
	}
	logs := tr.RekorLogs()
	if len(logs) != 1 || len(tr.CTLogs()) != 0 {
		t.Fatalf("%d Rekor logs, %d CT logs", len(logs), len(tr.CTLogs()))
	}
	for id, l := range logs {
		pub, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(pub)
		if id != hex.EncodeToString(sum[:]) || l.BaseURL != RekorURL {
			t.Errorf("log %s at %s: its ID is not the sha256 of its key", id, l.BaseURL)
		}
	}
	if !s.Intermediate.IsCA || s.Intermediate.CheckSignatureFrom(s.Root) != nil {
		t.Error("the intermediate is not a CA signed by the root")
	}
}

// TestKeyless: a keyless certificate names its identity as Fulcio does (a URI, else an e-mail
// address), carries the OIDC issuer, chains to the root for code signing, and lives as long
// as asked.
func TestKeyless(t *testing.T) {
	s, _ := newSigstore(t)
	nb := time.Now().Add(-time.Minute).Truncate(time.Second)
	for _, c := range []struct{ identity, issuer string }{
		{workflow, GitHubIssuer},
		{"someone@example.org", "https://accounts.example.org"},
	} {
		sg, err := s.Keyless(c.identity, c.issuer, nb, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := fulcio.SummarizeCertificate(sg.Cert)
		if err != nil {
			t.Fatal(err)
		}
		if sum.SubjectAlternativeName != c.identity || sum.Issuer != c.issuer {
			t.Errorf("%s: summary %+v", c.identity, sum)
		}
		if strings.Contains(c.identity, "@") && !strings.Contains(c.identity, "://") && len(sg.Cert.EmailAddresses) != 1 {
			t.Errorf("%s is not an e-mail SAN", c.identity)
		}
		if !sg.Cert.NotBefore.Equal(nb) || !sg.Cert.NotAfter.Equal(nb.Add(10*time.Minute)) {
			t.Errorf("validity %s to %s", sg.Cert.NotBefore, sg.Cert.NotAfter)
		}
		inter, roots := x509.NewCertPool(), x509.NewCertPool()
		inter.AddCert(s.Intermediate)
		roots.AddCert(s.Root)
		if _, err := sg.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: nb.Add(time.Minute),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
			t.Errorf("%s: chain: %v", c.identity, err)
		}
		block, _ := pem.Decode(sg.CertPEM())
		if block == nil || block.Type != "CERTIFICATE" {
			t.Error("CertPEM is not a PEM certificate")
		}
	}
	chain := s.ChainPEM()
	var certs []*x509.Certificate
	for block, rest := pem.Decode(chain); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 || !certs[0].Equal(s.Intermediate) || !certs[1].Equal(s.Root) {
		t.Errorf("ChainPEM holds %d certificates, want the intermediate then the root", len(certs))
	}
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.Cert != nil || k.CertPEM() != nil {
		t.Error("a plain key has a certificate")
	}
}

// TestSignCosign: the signature verifies with the signer's key over the payload; logged, the
// entry's SET verifies against the trusted root's Rekor key; unlogged, there is no bundle
// annotation; a plain key attaches no certificate.
func TestSignCosign(t *testing.T) {
	s, tr := newSigstore(t)
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	sg, err := s.Keyless(workflow, GitHubIssuer, now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	payload := SimpleSigning("registry.test/synapse", digest)
	var doc struct {
		Critical struct {
			Identity struct {
				Ref string `json:"docker-reference"`
			} `json:"identity"`
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &doc); err != nil || doc.Critical.Image.Digest != digest || doc.Critical.Identity.Ref != "registry.test/synapse" ||
		doc.Critical.Type != "cosign container image signature" {
		t.Fatalf("payload %s (%v)", payload, err)
	}
	c, err := s.SignCosign(payload, sg, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(c.Annotations[AnnotSignature])
	h := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(sg.Cert.PublicKey.(*ecdsa.PublicKey), h[:], sig) {
		t.Error("the signature does not verify with the certificate's key")
	}
	if c.Annotations[AnnotCertificate] != string(sg.CertPEM()) || c.Annotations[AnnotChain] != string(s.ChainPEM()) {
		t.Error("certificate or chain annotation missing")
	}
	if c.Entry == nil || c.Entry.IntegratedTime != now.Add(30*time.Second).Unix() || c.Annotations[AnnotBundle] != RekorBundle(c.Entry) {
		t.Fatalf("entry %+v", c.Entry)
	}
	if err := tlog.VerifySET(entryOf(t, c.Entry), tr.RekorLogs()); err != nil {
		t.Errorf("SET: %v", err)
	}
	// An entry with a field changed no longer verifies; SignSET makes it verify again.
	changed := *c.Entry
	changed.IntegratedTime++
	if err := tlog.VerifySET(entryOf(t, &changed), tr.RekorLogs()); err == nil {
		t.Error("an altered entry's SET verifies")
	}
	if changed.SET, err = s.SignSET(&changed); err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifySET(entryOf(t, &changed), tr.RekorLogs()); err != nil {
		t.Errorf("re-signed SET: %v", err)
	}

	key, _ := NewKey()
	bare, err := s.SignCosign(payload, key, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bare.Annotations) != 1 || bare.Entry != nil {
		t.Errorf("a keyed, unlogged signature: %v", bare.Annotations)
	}
	block, _ := pem.Decode(key.PublicKeyPEM())
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ = base64.StdEncoding.DecodeString(bare.Annotations[AnnotSignature])
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), h[:], sig) {
		t.Error("the keyed signature does not verify with PublicKeyPEM")
	}
}

// entryOf is e as sigstore-go reads an entry of cosign's bundle annotation.
func entryOf(t *testing.T, e *Entry) *tlog.Entry {
	t.Helper()
	logID, _ := hex.DecodeString(e.LogID)
	entry, err := tlog.NewEntry(e.Body, e.IntegratedTime, e.LogIndex, logID, e.SET, nil)
	if err != nil {
		t.Fatal(err)
	}
	return entry
}

// TestSignBundle: sigstore-go verifies a keyless bundle against the trusted root (the chain,
// the Rekor entry with its SET and inclusion proof, the identity, the statement's digest), and
// refuses it for another digest or identity.
func TestSignBundle(t *testing.T) {
	s, tr := newSigstore(t)
	now := time.Now().Add(-time.Minute)
	sg, err := s.Keyless(workflow, GitHubIssuer, now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	statement := Statement(digest)
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(statement, &st); err != nil || len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != digest || st.PredicateType != SignaturePredType {
		t.Fatalf("statement %s (%v)", statement, err)
	}
	data, err := s.SignBundle(statement, sg, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatalf("sigstore-go does not read the bundle: %v", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	id, err := verify.NewShortCertificateIdentity(GitHubIssuer, "", workflow, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", h), verify.WithCertificateIdentity(id)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if res.Signature.Certificate.SubjectAlternativeName != workflow {
		t.Errorf("signed by %s", res.Signature.Certificate.SubjectAlternativeName)
	}
	other, _ := hex.DecodeString(strings.Repeat("22", 32))
	if _, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", other), verify.WithCertificateIdentity(id))); err == nil {
		t.Error("the bundle verifies for another digest")
	}
	wrong, _ := verify.NewShortCertificateIdentity(GitHubIssuer, "", "https://github.com/evil/x", "")
	if _, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", h), verify.WithCertificateIdentity(wrong))); err == nil {
		t.Error("the bundle verifies for another identity")
	}

	key, _ := NewKey()
	keyed, err := s.SignBundle(statement, key, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var kb bundle.Bundle
	if err := kb.UnmarshalJSON(keyed); err != nil {
		t.Fatal(err)
	}
	vc, err := kb.VerificationContent()
	if err != nil || vc.Certificate() != nil || vc.PublicKey() == nil || vc.PublicKey().Hint() != "sigstoretest" {
		t.Errorf("a keyed bundle's verification content: %v", err)
	}
	if entries, _ := kb.TlogEntries(); len(entries) != 0 {
		t.Errorf("an unlogged bundle has %d entries", len(entries))
	}
}

// TestLogIndexConcurrent: signatures logged at once get distinct log indexes (run with -race).
func TestLogIndexConcurrent(t *testing.T) {
	s, _ := newSigstore(t)
	key, _ := NewKey()
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := s.SignCosign([]byte("{}"), key, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[c.Entry.LogIndex] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Errorf("%d distinct log indexes for 8 signatures", len(seen))
	}
}

// TestSignBundleKeyed: a keyed bundle, logged, verifies with sigstore-go against the key (by
// its hint "sigstoretest") and the trusted root's Rekor log, and not against another key.
func TestSignBundleKeyed(t *testing.T) {
	s, tr := newSigstore(t)
	key, _ := NewKey()
	stranger, _ := NewKey()
	data, err := s.SignBundle(Statement(digest), key, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	if entries, _ := b.TlogEntries(); len(entries) != 1 || !entries[0].HasInclusionProof() || !entries[0].HasInclusionPromise() {
		t.Fatalf("entries %v", entries)
	}
	h, _ := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	for _, c := range []struct {
		name string
		pub  *Signer
		ok   bool
	}{{"its key", key, true}, {"another key", stranger, false}} {
		block, _ := pem.Decode(c.pub.PublicKeyPEM())
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sv, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		tm := root.TrustedMaterialCollection{tr, root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
			"sigstoretest": root.NewExpiringKey(sv, time.Time{}, time.Time{})})}
		v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", h), verify.WithKey()))
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
