package provenance

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Status of an image under a policy.
const (
	StatusVerified   = "verified"    // a signature satisfies the image's rule
	StatusUnsigned   = "unsigned"    // no signature was found
	StatusUnverified = "unverified"  // signatures were found, none satisfies the rule
	StatusNotCovered = "not covered" // no rule names the image
)

// Signed is a signature that satisfied a rule: who signed, and when.
type Signed struct {
	Format   string    `json:"format"`             // "cosign" (simple signing) or "bundle" (Sigstore bundle)
	Identity string    `json:"identity,omitempty"` // keyless: the certificate's subject alternative name
	Issuer   string    `json:"issuer,omitempty"`   // keyless: its OIDC issuer
	Key      string    `json:"key,omitempty"`      // keyed: the policy's key (name and sha256 of the key)
	Time     time.Time `json:"time,omitzero"`      // when the transparency log (or a timestamp authority) saw it
	Referrer string    `json:"referrer"`           // the manifest that carries it
}

// Who is the signer for people: identity and issuer, or the key.
func (s Signed) Who() string {
	if s.Key != "" {
		return "key " + s.Key
	}
	return s.Identity + " (" + s.Issuer + ")"
}

// Result is the verdict on one image.
type Result struct {
	Image    string   `json:"image"`  // server/path
	Digest   string   `json:"digest"` // what the signatures must name
	Rule     string   `json:"rule,omitempty"`
	Missing  string   `json:"missing,omitempty"` // the rule's MissingFail or MissingReport
	Status   string   `json:"status"`
	Signed   []Signed `json:"signed,omitempty"`
	Problems []string `json:"problems,omitempty"` // why each other signature did not satisfy the rule
}

// Failed reports whether the policy refuses the image.
func (r Result) Failed() bool {
	return r.Missing == MissingFail && r.Status != StatusVerified && r.Status != StatusNotCovered
}

// Err is nil, or why the policy refuses the image (wrapping ErrRefused).
func (r Result) Err() error {
	if !r.Failed() {
		return nil
	}
	return fmt.Errorf("%w (rule %s): %s", ErrRefused, r.Rule, r.Reason())
}

// Reason says in one line why the image is not verified ("" when it is).
func (r Result) Reason() string {
	switch r.Status {
	case StatusUnsigned:
		return "no signature found (neither a cosign .sig tag nor a Sigstore bundle referrer of its digest)"
	case StatusUnverified:
		return strings.Join(r.Problems, "; ")
	case StatusNotCovered:
		return "no rule of the policy names this image"
	}
	return ""
}

// Verifier checks images against a policy and a trusted root. Safe for concurrent use.
type Verifier struct {
	policy *Policy
	trust  *TrustedRoot
	now    func() time.Time
}

// NewVerifier checks against p with the trusted root tr, which may be nil when no rule has a
// keyless signer (a keyless signature then fails: nothing to check its chain against).
func NewVerifier(p *Policy, tr *TrustedRoot) *Verifier {
	return &Verifier{policy: p, trust: tr, now: time.Now}
}

// NeedsTrustedRoot reports whether some rule accepts keyless signatures.
func (p *Policy) NeedsTrustedRoot() bool {
	for _, r := range p.Rules {
		for _, s := range r.Signers {
			if s.Keyless != nil {
				return true
			}
		}
	}
	return false
}

// Check verifies the signatures found for image ("server/path") at digest against its rule.
// It reads nothing but its arguments and the trusted root: no network.
func (v *Verifier) Check(image, digest string, sigs []Signature) Result {
	res := Result{Image: image, Digest: digest, Status: StatusNotCovered}
	rule := v.policy.Match(image)
	if rule == nil {
		return res
	}
	res.Rule, res.Missing, res.Status = rule.Label(), rule.Missing, StatusUnsigned
	if len(sigs) == 0 {
		return res
	}
	for _, s := range sigs {
		signed, problem := v.check(rule, digest, s)
		if signed != nil {
			res.Signed = append(res.Signed, *signed)
		} else {
			res.Problems = append(res.Problems, fmt.Sprintf("%s signature in %s: %s", s.Format(), s.Referrer, problem))
		}
	}
	res.Status = StatusUnverified
	if len(res.Signed) > 0 {
		res.Status = StatusVerified
	}
	return res
}

// check verifies one signature against the rule's signers: the signer, or why not.
func (v *Verifier) check(rule *Rule, digest string, s Signature) (*Signed, string) {
	e, err := parse(s)
	if err != nil {
		return nil, "unreadable: " + err.Error()
	}
	if e.digest != digest {
		return nil, fmt.Sprintf("the signed payload names %s, not this image's %s", orNone(e.digest), digest)
	}
	if s.Format() == "bundle" && e.predicate != SignaturePredicate {
		return nil, fmt.Sprintf("a statement of predicate type %s (an attestation), not an image signature (%s)", e.predicate, SignaturePredicate)
	}
	if len(rule.Signers) == 0 {
		return nil, "the rule names no signer"
	}
	if e.cert != nil {
		return v.checkKeyless(rule, digest, s, e)
	}
	return v.checkKey(rule, digest, s, e)
}

func (v *Verifier) checkKeyless(rule *Rule, digest string, s Signature, e *entity) (*Signed, string) {
	var ids []*Keyless
	for _, sg := range rule.Signers {
		if sg.Keyless != nil {
			ids = append(ids, sg.Keyless)
		}
	}
	if len(ids) == 0 {
		return nil, "signed keyless (a certificate), the rule accepts only keys"
	}
	if v.trust == nil {
		return nil, "signed keyless, and no trusted root to check the certificate against"
	}
	if len(e.entries) == 0 {
		if ts, _ := e.Timestamps(); len(ts) == 0 {
			if now := v.now(); now.After(e.cert.NotAfter) {
				return nil, fmt.Sprintf("its certificate expired at %s and it carries no Rekor entry (nor a timestamp) to show it was made while the certificate was valid",
					e.cert.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil, "it carries no Rekor entry (nor a timestamp): nothing shows when the short-lived certificate was used"
		}
	}
	if p := v.checkSETs(e); p != "" {
		return nil, p
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if len(e.entries) == 0 {
		opts = []verify.VerifierOption{verify.WithSignedTimestamps(1)}
	}
	if len(v.trust.tr.CTLogs()) > 0 { // the public-good root lists CT logs: Fulcio's certificates carry SCTs
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	ver, err := verify.NewVerifier(v.trust.tr, opts...)
	if err != nil {
		return nil, err.Error()
	}
	res, err := ver.Verify(e, verify.NewPolicy(artifactOf(s, digest), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, "does not verify: " + err.Error()
	}
	sum := res.Signature.Certificate
	var why []string
	for _, k := range ids {
		sanErr, issErr := k.id.SubjectAlternativeName.Verify(*sum), k.id.Issuer.Verify(*sum)
		switch {
		case sanErr == nil && issErr == nil:
			return &Signed{Format: s.Format(), Identity: sum.SubjectAlternativeName, Issuer: sum.Issuer, Time: firstTime(res), Referrer: s.Referrer}, ""
		case sanErr != nil:
			why = append(why, "not "+Signer{Keyless: k}.String())
		default:
			want := k.Issuer
			if want == "" {
				want = "one matching " + k.IssuerRegexp
			}
			why = append(why, fmt.Sprintf("the identity matches, but the issuer is not %s", want))
		}
	}
	return nil, fmt.Sprintf("signed by %s (issuer %s): %s", sum.SubjectAlternativeName, sum.Issuer, strings.Join(why, "; "))
}

func (v *Verifier) checkKey(rule *Rule, digest string, s Signature, e *entity) (*Signed, string) {
	var why []string
	for _, sg := range rule.Signers {
		k := sg.Key
		if k == nil {
			continue
		}
		sv, err := signature.LoadVerifier(k.pub, crypto.SHA256)
		if err != nil {
			why = append(why, fmt.Sprintf("key %s: %v", k.id, err))
			continue
		}
		var tm root.TrustedMaterialCollection
		if v.trust != nil {
			tm = append(tm, v.trust.tr)
		}
		tm = append(tm, root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{k.id: root.NewExpiringKey(sv, time.Time{}, time.Time{})}))
		opts := []verify.VerifierOption{verify.WithNoObserverTimestamps()}
		if len(e.entries) > 0 { // logged: the entry must verify too
			if p := v.checkSETs(e); p != "" {
				return nil, p
			}
			opts = []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1)}
		}
		ver, err := verify.NewVerifier(tm, opts...)
		if err != nil {
			return nil, err.Error()
		}
		res, err := ver.Verify(&withKey{entity: e, key: &publicKey{hint: k.id}}, verify.NewPolicy(artifactOf(s, digest), verify.WithKey()))
		if err != nil {
			why = append(why, fmt.Sprintf("not by %s: %v", Signer{Key: k}.String(), err))
			continue
		}
		name := k.id
		if k.Name != "" {
			name = k.Name + " (" + k.id + ")"
		}
		return &Signed{Format: s.Format(), Key: name, Time: firstTime(res), Referrer: s.Referrer}, ""
	}
	if len(why) == 0 {
		return nil, "signed with a key (no certificate), the rule accepts only keyless identities"
	}
	return nil, strings.Join(why, "; ")
}

// checkSETs verifies every entry's signed entry timestamp against the trusted Rekor keys, for
// a clear reason: sigstore-go skips an entry it cannot verify and then counts too few.
func (v *Verifier) checkSETs(e *entity) string {
	if v.trust == nil {
		return "it carries a Rekor entry, and there is no trusted root to check it against"
	}
	for _, en := range e.entries {
		if !en.HasInclusionPromise() {
			continue
		}
		if err := tlog.VerifySET(en, v.trust.tr.RekorLogs()); err != nil {
			return fmt.Sprintf("its Rekor entry (log %s, index %d) does not verify against the trusted root's Rekor keys: %v",
				short(hex.EncodeToString([]byte(en.LogKeyID()))), en.LogIndex(), err)
		}
	}
	return ""
}

// artifactOf is what the signature is over: the payload itself (cosign's simple signing), or
// the image digest the bundle's statement must name.
func artifactOf(s Signature, digest string) verify.ArtifactPolicyOption {
	if s.Format() == "cosign" {
		return verify.WithArtifact(bytes.NewReader(s.Content))
	}
	h, _ := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	return verify.WithArtifactDigest("sha256", h)
}

func firstTime(res *verify.VerificationResult) time.Time {
	for _, ts := range res.VerifiedTimestamps {
		return ts.Timestamp.UTC()
	}
	return time.Time{}
}

func orNone(s string) string {
	if s == "" {
		return "no digest"
	}
	return s
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// withKey is an entity checked against one of the policy's keys.
type withKey struct {
	*entity
	key verify.VerificationContent
}

func (w *withKey) VerificationContent() (verify.VerificationContent, error) { return w.key, nil }

// publicKey names a key of the trusted material by its hint.
type publicKey struct{ hint string }

func (p *publicKey) Hint() string { return p.hint }
func (p *publicKey) CompareKey(key any, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(p.hint)
	if err != nil {
		return false
	}
	pub, err := v.PublicKey()
	if err != nil {
		return false
	}
	eq, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}
func (p *publicKey) ValidAtTime(t time.Time, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(p.hint)
	return err == nil && v.ValidAtTime(t)
}
func (p *publicKey) Certificate() *x509.Certificate      { return nil }
func (p *publicKey) Intermediates() []*x509.Certificate  { return nil }
func (p *publicKey) PublicKey() verify.PublicKeyProvider { return p }
