package provenance

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Media types and annotations of cosign's signatures.
const (
	SimpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json"
	BundleType        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SignaturePredicate is the predicate type of the statement cosign 3 signs for an image.
	SignaturePredicate = "https://sigstore.dev/cosign/sign/v1"

	annotSignature   = "dev.cosignproject.cosign/signature"
	annotCertificate = "dev.sigstore.cosign/certificate"
	annotChain       = "dev.sigstore.cosign/chain"
	annotBundle      = "dev.sigstore.cosign/bundle"
)

// bundleTypes are the media types of Sigstore bundles (v0.1 and v0.2 are older forms).
var bundleTypes = map[string]bool{
	BundleType: true,
	"application/vnd.dev.sigstore.bundle+json;version=0.1": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.2": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
}

// Limits on what a signature may hold.
const (
	MaxSignatureSize = 1 << 20 // a payload or a bundle
	maxChain         = 10      // certificates in cosign's chain annotation
)

// IsSignature reports whether a layer of this media type is a signature this package reads.
func IsSignature(mediaType string) bool {
	return mediaType == SimpleSigningType || bundleTypes[mediaType]
}

// SignatureTypes are the artifact types of the referrers that hold signatures, for
// `bundle create --referrers TYPE`.
func SignatureTypes() []string { return []string{SimpleSigningType, BundleType} }

// Signature is one signature found for an image: a simple signing layer of a cosign `.sig`
// manifest, or the Sigstore bundle layer of an OCI 1.1 referrer.
type Signature struct {
	Referrer    string            // digest of the manifest that holds it (and its tag, if any), for messages
	MediaType   string            // the layer's media type
	Annotations map[string]string // the layer's annotations (cosign's signature, certificate, chain, Rekor bundle)
	Content     []byte            // the layer: the simple signing payload, or the bundle's JSON
}

// Format is "cosign" for a simple signing signature, "bundle" for a Sigstore bundle.
func (s Signature) Format() string {
	if s.MediaType == SimpleSigningType {
		return "cosign"
	}
	return "bundle"
}

// entity is a signature made verifiable by sigstore-go, and what it claims to sign.
type entity struct {
	verify.SignedEntity
	digest    string // the image digest the signed payload names, "sha256:<hex>"
	predicate string // a bundle's statement predicate type
	cert      *x509.Certificate
	entries   []*tlog.Entry
}

// parse turns a signature into a sigstore-go signed entity.
func parse(s Signature) (*entity, error) {
	if len(s.Content) > MaxSignatureSize {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed", len(s.Content), MaxSignatureSize)
	}
	if s.MediaType == SimpleSigningType {
		return parseCosign(s)
	}
	if !bundleTypes[s.MediaType] {
		return nil, fmt.Errorf("media type %s is not a signature", s.MediaType)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(s.Content); err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %v", err)
	}
	e := &entity{SignedEntity: &b}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	e.cert = vc.Certificate()
	if e.entries, err = b.TlogEntries(); err != nil {
		return nil, err
	}
	env, err := b.Envelope()
	if err != nil {
		return nil, errors.New("Sigstore bundle: not a DSSE envelope (a message signature says nothing of the image's digest)")
	}
	st, err := env.Statement()
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %v", err)
	}
	e.predicate = st.GetPredicateType()
	for _, sub := range st.GetSubject() {
		if h := sub.GetDigest()["sha256"]; h != "" {
			if e.digest != "" && e.digest != "sha256:"+h {
				return nil, errors.New("Sigstore bundle: its statement names several digests")
			}
			e.digest = "sha256:" + h
		}
	}
	return e, nil
}

// cosignEntity is a cosign 2 signature, as sigstore-go verifies one: the signature over the
// payload's sha256, the certificate and chain of the annotations (or a key, given later), and
// the Rekor entry of cosign's bundle annotation with its signed entry timestamp. sigstore-go
// then checks the SET against the trusted root's Rekor keys, that the entry's signature,
// certificate and payload digest are this signature's, and the chain at the entry's time,
// as cosign's own verification of this form does.
type cosignEntity struct {
	sig     *bundle.MessageSignature
	content verify.VerificationContent
	entries []*tlog.Entry
}

func (c *cosignEntity) HasInclusionPromise() bool { return len(c.entries) > 0 }
func (c *cosignEntity) HasInclusionProof() bool   { return false }
func (c *cosignEntity) SignatureContent() (verify.SignatureContent, error) {
	return c.sig, nil
}
func (c *cosignEntity) Timestamps() ([][]byte, error)       { return nil, nil }
func (c *cosignEntity) TlogEntries() ([]*tlog.Entry, error) { return c.entries, nil }
func (c *cosignEntity) Version() (string, error)            { return "", nil }
func (c *cosignEntity) VerificationContent() (verify.VerificationContent, error) {
	if c.content == nil {
		return nil, errors.New("no certificate, and no key given")
	}
	return c.content, nil
}

func parseCosign(s Signature) (*entity, error) {
	var payload struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(s.Content, &payload); err != nil {
		return nil, fmt.Errorf("simple signing payload: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Annotations[annotSignature])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("annotation %s: no base64 signature", annotSignature)
	}
	h := sha256.Sum256(s.Content)
	c := &cosignEntity{sig: bundle.NewMessageSignature(h[:], "SHA2_256", sig)}
	e := &entity{SignedEntity: c, digest: payload.Critical.Image.Digest}
	if pemCert := s.Annotations[annotCertificate]; pemCert != "" {
		certs, err := parsePEMCerts(pemCert, 1)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v", annotCertificate, err)
		}
		chain, err := parsePEMCerts(s.Annotations[annotChain], maxChain)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v", annotChain, err)
		}
		e.cert = certs[0]
		c.content = &certificate{cert: certs[0], intermediates: chain}
	}
	if rb := s.Annotations[annotBundle]; rb != "" {
		entry, err := parseRekorBundle(rb)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v", annotBundle, err)
		}
		c.entries = []*tlog.Entry{entry}
		e.entries = c.entries
	}
	return e, nil
}

// parseRekorBundle reads cosign's Rekor bundle annotation: the SET and the fields it signs.
func parseRekorBundle(s string) (*tlog.Entry, error) {
	var rb struct {
		SET     []byte `json:"SignedEntryTimestamp"`
		Payload struct {
			Body           string `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		} `json:"Payload"`
	}
	if err := json.Unmarshal([]byte(s), &rb); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("logID: %v", err)
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	return tlog.ParseTransparencyLogEntry(&protorekor.TransparencyLogEntry{
		LogIndex: rb.Payload.LogIndex, LogId: &protocommon.LogId{KeyId: logID},
		KindVersion:    &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime: rb.Payload.IntegratedTime, InclusionPromise: &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SET},
		CanonicalizedBody: body,
	})
}

// certificate is a leaf certificate with the chain cosign's annotation gives.
type certificate struct {
	cert          *x509.Certificate
	intermediates []*x509.Certificate
}

func (c *certificate) CompareKey(key any, _ root.TrustedMaterial) bool {
	k, ok := key.(*x509.Certificate)
	return ok && c.cert.Equal(k)
}
func (c *certificate) ValidAtTime(t time.Time, _ root.TrustedMaterial) bool {
	return !c.cert.NotAfter.Before(t) && !c.cert.NotBefore.After(t)
}
func (c *certificate) Certificate() *x509.Certificate      { return c.cert }
func (c *certificate) Intermediates() []*x509.Certificate  { return c.intermediates }
func (c *certificate) PublicKey() verify.PublicKeyProvider { return nil }

// parsePEMCerts reads up to max PEM certificates ("" gives none).
func parsePEMCerts(s string, max int) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(s)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(out) == max {
			return nil, fmt.Errorf("more than %d certificates, or a PEM block that is not one", max)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(strings.TrimSpace(string(rest))) > 0 || s != "" && len(out) == 0 {
		return nil, errors.New("not PEM certificates")
	}
	return out, nil
}
