package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/sigstoretest"
)

// TestIsSignature: the two forms cosign attaches, and the older bundle media types, are
// signatures; anything else (an attestation's in-toto layer, an image layer) is not.
func TestIsSignature(t *testing.T) {
	for mt, want := range map[string]bool{
		SimpleSigningType: true,
		BundleType:        true,
		"application/vnd.dev.sigstore.bundle+json;version=0.1": true,
		"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
		"application/vnd.dev.sigstore.bundle+json;version=0.4": false,
		"application/vnd.in-toto+json":                         false,
		"application/vnd.oci.image.layer.v1.tar+gzip":          false,
		"": false,
	} {
		if got := IsSignature(mt); got != want {
			t.Errorf("IsSignature(%q) = %v, want %v", mt, got, want)
		}
	}
	for _, mt := range SignatureTypes() {
		if !IsSignature(mt) {
			t.Errorf("SignatureTypes lists %s, which IsSignature refuses", mt)
		}
	}
	if got := (Signature{MediaType: SimpleSigningType}).Format(); got != "cosign" {
		t.Errorf("simple signing format %q", got)
	}
	if got := (Signature{MediaType: BundleType}).Format(); got != "bundle" {
		t.Errorf("bundle format %q", got)
	}
}

// signed is a cosign 2 signature (keyless, logged) and a Sigstore bundle for imageDigest.
type signed struct {
	ss     *sigstoretest.Sigstore
	signer *sigstoretest.Signer
	cosign *sigstoretest.Cosign
	bundle []byte
}

func newSigned(t *testing.T) *signed {
	t.Helper()
	ss, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute)
	sg, err := ss.Keyless(workflowID, sigstoretest.GitHubIssuer, now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ss.SignCosign(sigstoretest.SimpleSigning(synapse, imageDigest), sg, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ss.SignBundle(sigstoretest.Statement(imageDigest), sg, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return &signed{ss: ss, signer: sg, cosign: c, bundle: b}
}

// sig is the cosign signature with its annotations changed by edit (a value "" removes one).
func (s *signed) sig(edit map[string]string) Signature {
	a := map[string]string{}
	for k, v := range s.cosign.Annotations {
		a[k] = v
	}
	for k, v := range edit {
		if v == "" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return Signature{Referrer: "r", MediaType: SimpleSigningType, Annotations: a, Content: s.cosign.Payload}
}

// bundleWith is the bundle's JSON with edit applied to its decoded form.
func (s *signed) bundleWith(t *testing.T, edit func(map[string]any)) Signature {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.bundle, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return Signature{Referrer: "r", MediaType: BundleType, Content: b}
}

// TestParse: what parse reads of each form: the digest the payload names, the certificate
// and chain, the Rekor entry.
func TestParse(t *testing.T) {
	s := newSigned(t)
	e, err := parse(s.sig(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e.digest != imageDigest || e.cert == nil || !e.cert.Equal(s.signer.Cert) || len(e.entries) != 1 {
		t.Fatalf("cosign: digest %s, cert %v, %d entries", e.digest, e.cert != nil, len(e.entries))
	}
	if got, want := e.entries[0].LogIndex(), s.cosign.Entry.LogIndex; got != want {
		t.Errorf("log index %d, want %d", got, want)
	}
	if got, want := e.entries[0].IntegratedTime().Unix(), s.cosign.Entry.IntegratedTime; got != want {
		t.Errorf("integrated time %d, want %d", got, want)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	if ints := vc.Intermediates(); len(ints) != 2 || !ints[0].Equal(s.ss.Intermediate) || !ints[1].Equal(s.ss.Root) {
		t.Errorf("chain of %d certificates, want the intermediate and the root", len(ints))
	}

	unlogged := s.sig(map[string]string{annotBundle: "", annotCertificate: "", annotChain: ""})
	e, err = parse(unlogged)
	if err != nil {
		t.Fatal(err)
	}
	if e.cert != nil || len(e.entries) != 0 || e.HasInclusionPromise() || e.HasInclusionProof() {
		t.Fatalf("a bare signature: cert %v, %d entries", e.cert != nil, len(e.entries))
	}
	if _, err := e.VerificationContent(); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("a bare signature's verification content: %v", err)
	}

	e, err = parse(Signature{MediaType: BundleType, Content: s.bundle})
	if err != nil {
		t.Fatal(err)
	}
	if e.digest != imageDigest || e.predicate != SignaturePredicate || e.cert == nil || len(e.entries) != 0 {
		t.Fatalf("bundle: digest %s, predicate %s, cert %v, %d entries", e.digest, e.predicate, e.cert != nil, len(e.entries))
	}
}

// TestParseRefuses: hostile and broken signatures are refused with a reason that names the
// part at fault.
func TestParseRefuses(t *testing.T) {
	s := newSigned(t)
	certPEM := string(s.signer.CertPEM())
	var rb map[string]any
	if err := json.Unmarshal([]byte(s.cosign.Annotations[annotBundle]), &rb); err != nil {
		t.Fatal(err)
	}
	rekor := func(field, value string) string {
		m := map[string]any{"SignedEntryTimestamp": rb["SignedEntryTimestamp"], "Payload": map[string]any{}}
		for k, v := range rb["Payload"].(map[string]any) {
			m["Payload"].(map[string]any)[k] = v
		}
		m["Payload"].(map[string]any)[field] = value
		b, _ := json.Marshal(m)
		return string(b)
	}
	garbageCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	keyBlock := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}))
	twoSubjects, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{
			map[string]any{"name": "a", "digest": map[string]string{"sha256": strings.TrimPrefix(imageDigest, "sha256:")}},
			map[string]any{"name": "b", "digest": map[string]string{"sha256": strings.TrimPrefix(otherDigest, "sha256:")}},
		},
		"predicateType": SignaturePredicate, "predicate": map[string]any{}})
	twoSubjectsBundle, err := s.ss.SignBundle(twoSubjects, s.signer, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	notStatement, err := s.ss.SignBundle([]byte("not a statement"), s.signer, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	messageSig := s.bundleWith(t, func(m map[string]any) {
		delete(m, "dsseEnvelope")
		m["messageSignature"] = map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(make([]byte, 32))},
			"signature":     base64.StdEncoding.EncodeToString([]byte("sig")),
		}
	})

	cases := []struct {
		name string
		sig  Signature
		want string
	}{
		{"too large", Signature{MediaType: BundleType, Content: make([]byte, MaxSignatureSize+1)}, "more than the"},
		{"not a signature type", Signature{MediaType: "application/vnd.in-toto+json", Content: []byte("{}")}, "is not a signature"},
		{"payload not JSON", Signature{MediaType: SimpleSigningType, Content: []byte("{"), Annotations: s.cosign.Annotations}, "simple signing payload"},
		{"no signature annotation", s.sig(map[string]string{annotSignature: ""}), annotSignature},
		{"signature not base64", s.sig(map[string]string{annotSignature: "!!not base64!!"}), annotSignature},
		{"certificate not PEM", s.sig(map[string]string{annotCertificate: "hello"}), annotCertificate + ": not PEM"},
		{"certificate not DER", s.sig(map[string]string{annotCertificate: garbageCert}), annotCertificate + ": x509"},
		{"two certificates", s.sig(map[string]string{annotCertificate: certPEM + certPEM}), "more than 1 certificates"},
		{"certificate then junk", s.sig(map[string]string{annotCertificate: certPEM + "junk"}), annotCertificate},
		{"chain holds a key", s.sig(map[string]string{annotChain: keyBlock}), annotChain + ": more than 10 certificates, or a PEM block that is not one"},
		{"chain too long", s.sig(map[string]string{annotChain: strings.Repeat(certPEM, maxChain+1)}), annotChain + ": more than 10"},
		{"Rekor bundle not JSON", s.sig(map[string]string{annotBundle: "{"}), annotBundle},
		{"Rekor body not base64", s.sig(map[string]string{annotBundle: rekor("body", "!!")}), "body"},
		{"Rekor body not JSON", s.sig(map[string]string{annotBundle: rekor("body", base64.StdEncoding.EncodeToString([]byte("[")))}), "body"},
		{"Rekor log ID not hex", s.sig(map[string]string{annotBundle: rekor("logID", "xyz")}), "logID"},
		{"bundle not JSON", Signature{MediaType: BundleType, Content: []byte("{")}, "Sigstore bundle"},
		{"bundle without material", s.bundleWith(t, func(m map[string]any) { delete(m, "verificationMaterial") }), "verification material"},
		{"bundle of a message signature", messageSig, "not a DSSE envelope"},
		{"statement of two digests", Signature{MediaType: BundleType, Content: twoSubjectsBundle}, "several digests"},
		{"envelope not a statement", Signature{MediaType: BundleType, Content: notStatement}, "Sigstore bundle: validation error: invalid attestation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := parse(c.sig)
			if err == nil {
				t.Fatalf("parsed: %+v", e)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v does not say %q", err, c.want)
			}
		})
	}
}

// TestParsePEMCerts: none for "", up to max certificates, nothing else around them.
func TestParsePEMCerts(t *testing.T) {
	s := newSigned(t)
	one := string(s.signer.CertPEM())
	chain := string(s.ss.ChainPEM())
	cases := []struct {
		name  string
		in    string
		max   int
		count int // -1: an error
	}{
		{"empty", "", 1, 0},
		{"one", one, 1, 1},
		{"chain", chain, 10, 2},
		{"chain over max", chain, 1, -1},
		{"blank text", "  \n", 1, -1},
		{"text", "certificate", 1, -1},
		{"trailing text", one + "x", 1, -1},
		{"leading text is skipped by PEM", "comment\n" + one, 1, 1},
		{"not a certificate block", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: s.signer.Cert.RawSubjectPublicKeyInfo})), 1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			certs, err := parsePEMCerts(c.in, c.max)
			if c.count < 0 {
				if err == nil {
					t.Fatalf("%d certificates, want an error", len(certs))
				}
				return
			}
			if err != nil || len(certs) != c.count {
				t.Fatalf("%d certificates, %v; want %d", len(certs), err, c.count)
			}
		})
	}
}

// TestCertificateValidAtTime: a cosign certificate is valid from NotBefore to NotAfter, both
// included, and compares equal only to itself.
func TestCertificateValidAtTime(t *testing.T) {
	s := newSigned(t)
	c := &certificate{cert: s.signer.Cert}
	nb, na := s.signer.Cert.NotBefore, s.signer.Cert.NotAfter
	for at, want := range map[time.Time]bool{
		nb.Add(-time.Second): false, nb: true, na: true, na.Add(time.Second): false,
	} {
		if got := c.ValidAtTime(at, nil); got != want {
			t.Errorf("valid at %s: %v, want %v", at, got, want)
		}
	}
	if !c.CompareKey(s.signer.Cert, nil) || c.CompareKey(s.ss.Intermediate, nil) || c.CompareKey("x", nil) {
		t.Error("CompareKey matches a certificate other than its own")
	}
	if c.PublicKey() != nil || !bytes.Equal(c.Certificate().Raw, s.signer.Cert.Raw) {
		t.Error("a certificate's content is its certificate, not a key")
	}
}
