package sigstoretest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Media types and annotations of cosign's two signature forms.
const (
	SimpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json"
	BundleType        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SignaturePredType = "https://sigstore.dev/cosign/sign/v1"
	AnnotSignature    = "dev.cosignproject.cosign/signature"
	AnnotCertificate  = "dev.sigstore.cosign/certificate"
	AnnotChain        = "dev.sigstore.cosign/chain"
	AnnotBundle       = "dev.sigstore.cosign/bundle"
	inTotoType        = "application/vnd.in-toto+json"
)

// SimpleSigning is the payload cosign 2 signs for an image: its reference and digest.
func SimpleSigning(dockerRef, digest string) []byte {
	b, _ := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": dockerRef},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	return b
}

// Cosign is one signature as a layer of a `.sig` manifest carries it: the payload is the
// layer's content, the rest its annotations.
type Cosign struct {
	Payload     []byte
	Annotations map[string]string
	Entry       *Entry // the Rekor entry, when logged
}

// SignCosign signs payload as `cosign sign` (v2) does. A keyless signer's certificate and the
// CA's chain are attached; the signature is logged at integrated unless that is zero, and the
// entry attached as cosign's Rekor bundle annotation.
func (s *Sigstore) SignCosign(payload []byte, sg *Signer, integrated time.Time) (*Cosign, error) {
	sig, err := sg.sign(payload)
	if err != nil {
		return nil, err
	}
	c := &Cosign{Payload: payload, Annotations: map[string]string{AnnotSignature: base64.StdEncoding.EncodeToString(sig)}}
	if sg.Cert != nil {
		c.Annotations[AnnotCertificate] = string(sg.CertPEM())
		c.Annotations[AnnotChain] = string(s.ChainPEM())
	}
	if integrated.IsZero() {
		return c, nil
	}
	body, err := hashedRekord(payload, sig, sg.verifierPEM())
	if err != nil {
		return nil, err
	}
	if c.Entry, err = s.log(body, integrated, s.logIndex()); err != nil {
		return nil, err
	}
	c.Annotations[AnnotBundle] = RekorBundle(c.Entry)
	return c, nil
}

// RekorBundle is cosign's dev.sigstore.cosign/bundle annotation for e.
func RekorBundle(e *Entry) string {
	b, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": e.SET, "Payload": map[string]any{
		"body": base64.StdEncoding.EncodeToString(e.Body), "integratedTime": e.IntegratedTime, "logIndex": e.LogIndex, "logID": e.LogID}})
	return string(b)
}

// Statement is the in-toto statement cosign 3 signs for an image digest ("sha256:<hex>").
func Statement(digest string) []byte {
	algo, hex, _ := strings.Cut(digest, ":")
	b, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "", "digest": map[string]string{algo: hex}}},
		"predicateType": SignaturePredType, "predicate": map[string]any{}})
	return b
}

// SignBundle signs statement as `cosign sign` (v3) does: a DSSE envelope in a Sigstore bundle
// v0.3 with the signer's certificate (or key hint) and, unless integrated is zero, a Rekor
// entry with its SET and an inclusion proof. It returns the bundle's JSON.
func (s *Sigstore) SignBundle(statement []byte, sg *Signer, integrated time.Time) ([]byte, error) {
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(inTotoType), inTotoType, len(statement), statement)
	sig, err := sg.sign([]byte(pae))
	if err != nil {
		return nil, err
	}
	env := &protodsse.Envelope{Payload: statement, PayloadType: inTotoType, Signatures: []*protodsse.Signature{{Sig: sig}}}
	vm := &protobundle.VerificationMaterial{}
	if sg.Cert != nil {
		vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: sg.Cert.Raw}}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "sigstoretest"}}
	}
	if !integrated.IsZero() {
		envJSON, err := json.Marshal(map[string]any{"payload": base64.StdEncoding.EncodeToString(statement), "payloadType": inTotoType,
			"signatures": []any{map[string]string{"sig": base64.StdEncoding.EncodeToString(sig)}}})
		if err != nil {
			return nil, err
		}
		body, err := dsseEntry(envJSON, statement, sig, sg.verifierPEM())
		if err != nil {
			return nil, err
		}
		e, err := s.log(body, integrated, 0) // a tree of one: see transparencyLogEntry
		if err != nil {
			return nil, err
		}
		tle, err := s.transparencyLogEntry(e, "dsse")
		if err != nil {
			return nil, err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	b := &protobundle.Bundle{MediaType: BundleType, VerificationMaterial: vm, Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env}}
	return protojson.Marshal(b)
}
