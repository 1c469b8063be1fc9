package provenance

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/sigstoretest"
)

const (
	synapse      = "registry.test/element-hq/synapse"
	workflowID   = "https://github.com/element-hq/synapse/.github/workflows/docker.yml@refs/tags/v1.159.0"
	imageDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherDigest  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	testPolicyFm = `version: 1
rules:
  - name: synapse
    images: [registry.test/element-hq/synapse, "registry.test/mirror/**"]
    signers:
      - keyless:
          identityRegexp: 'https://github\.com/element-hq/synapse/\.github/workflows/docker\.yml@refs/tags/v.+'
          issuer: https://token.actions.githubusercontent.com
  - name: keyed
    images: ["registry.test/keyed/*"]
    signers:
      - key:
          name: site
          publicKey: |
%s
  - name: optional
    images: ["registry.test/optional/*"]
    signers:
      - keyless: {identity: someone@example.org, issuer: https://accounts.example.org}
    missing: report
`
)

type fixture struct {
	t      *testing.T
	ss     *sigstoretest.Sigstore
	key    *sigstoretest.Signer
	v      *Verifier
	policy *Policy
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ss, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	key, err := sigstoretest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := ss.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrustedRoot("trusted_root.json", trJSON)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy("policy.yaml", []byte(policyWithKey(key.PublicKeyPEM())))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ss: ss, key: key, v: NewVerifier(p, tr), policy: p}
}

func policyWithKey(pem []byte) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(pem)), "\n") {
		lines = append(lines, "            "+l)
	}
	return strings.Replace(testPolicyFm, "%s", strings.Join(lines, "\n"), 1)
}

func (f *fixture) keyless(identity, issuer string, notBefore time.Time) *sigstoretest.Signer {
	f.t.Helper()
	sg, err := f.ss.Keyless(identity, issuer, notBefore, 10*time.Minute)
	if err != nil {
		f.t.Fatal(err)
	}
	return sg
}

func (f *fixture) cosign(payload []byte, sg *sigstoretest.Signer, integrated time.Time) Signature {
	f.t.Helper()
	c, err := f.ss.SignCosign(payload, sg, integrated)
	if err != nil {
		f.t.Fatal(err)
	}
	return Signature{Referrer: "sha256:aaaa (sha256-1111.sig)", MediaType: SimpleSigningType, Annotations: c.Annotations, Content: c.Payload}
}

func (f *fixture) bundle(statement []byte, sg *sigstoretest.Signer, integrated time.Time) Signature {
	f.t.Helper()
	b, err := f.ss.SignBundle(statement, sg, integrated)
	if err != nil {
		f.t.Fatal(err)
	}
	return Signature{Referrer: "sha256:bbbb", MediaType: BundleType, Content: b}
}

// TestCheck: the signatures of each case against the policy, with the status, whether the
// image fails, and a word of the reason or the signer.
func TestCheck(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Add(-time.Minute)
	good := f.keyless(workflowID, sigstoretest.GitHubIssuer, now)
	payload := sigstoretest.SimpleSigning(synapse, imageDigest)

	tamperedRekor := f.cosign(payload, good, now.Add(time.Minute))
	var rb map[string]any
	json.Unmarshal([]byte(tamperedRekor.Annotations["dev.sigstore.cosign/bundle"]), &rb)
	rb["Payload"].(map[string]any)["integratedTime"] = now.Add(2 * time.Minute).Unix() // the SET no longer covers it
	raw, _ := json.Marshal(rb)
	tamperedRekor.Annotations["dev.sigstore.cosign/bundle"] = string(raw)

	tamperedBundle := f.bundle(sigstoretest.Statement(imageDigest), good, now.Add(time.Minute))
	tamperedBundle.Content = []byte(strings.Replace(string(tamperedBundle.Content), `"integratedTime":"`, `"integratedTime":"1`, 1))

	other, err := sigstoretest.New() // another Sigstore: its CA and log are not trusted
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Keyless(workflowID, sigstoretest.GitHubIssuer, now, 10*time.Minute)
	foreignSig, _ := other.SignCosign(payload, foreign, now.Add(time.Minute))

	foreignCA, _ := f.ss.SignCosign(payload, foreign, now.Add(time.Minute)) // logged by the trusted log

	otherKey, _ := sigstoretest.NewKey()
	keyed, _ := f.ss.SignCosign(payload, f.key, time.Time{})
	keyedLogged, _ := f.ss.SignCosign(payload, f.key, now)
	wrongKey, _ := f.ss.SignCosign(payload, otherKey, time.Time{})
	sig := func(c *sigstoretest.Cosign) Signature {
		return Signature{Referrer: "sha256:cccc", MediaType: SimpleSigningType, Annotations: c.Annotations, Content: c.Payload}
	}
	attestation := []byte(strings.Replace(string(sigstoretest.Statement(imageDigest)), SignaturePredicate, "https://slsa.dev/provenance/v1", 1))

	cases := []struct {
		name   string
		image  string
		sigs   []Signature
		status string
		fails  bool
		want   string // in the reason, or in the signer
	}{
		{"cosign keyless", synapse, []Signature{f.cosign(payload, good, now.Add(time.Minute))}, StatusVerified, false, workflowID},
		{"bundle keyless", synapse, []Signature{f.bundle(sigstoretest.Statement(imageDigest), good, now.Add(time.Minute))}, StatusVerified, false, workflowID},
		{"mirror pattern", "registry.test/mirror/a/synapse", []Signature{f.cosign(payload, good, now.Add(time.Minute))}, StatusVerified, false, workflowID},
		{"one good among bad", synapse, []Signature{tamperedRekor, f.cosign(payload, good, now.Add(time.Minute))}, StatusVerified, false, workflowID},
		{"wrong identity", synapse, []Signature{f.cosign(payload, f.keyless("https://github.com/evil/synapse/.github/workflows/docker.yml@refs/tags/v1", sigstoretest.GitHubIssuer, now), now.Add(time.Minute))},
			StatusUnverified, true, "signed by https://github.com/evil/synapse"},
		{"wrong issuer", synapse, []Signature{f.cosign(payload, f.keyless(workflowID, "https://accounts.google.com", now), now.Add(time.Minute))},
			StatusUnverified, true, "(issuer https://accounts.google.com): the identity matches, but the issuer is not https://token.actions.githubusercontent.com"},
		{"expired certificate without Rekor", synapse, []Signature{f.cosign(payload, f.keyless(workflowID, sigstoretest.GitHubIssuer, now.Add(-time.Hour)), time.Time{})},
			StatusUnverified, true, "expired at"},
		{"logged after the certificate expired", synapse, []Signature{f.cosign(payload, f.keyless(workflowID, sigstoretest.GitHubIssuer, now.Add(-time.Hour)), now)},
			StatusUnverified, true, "integrated time outside certificate validity"},
		{"payload for another digest", synapse, []Signature{f.cosign(sigstoretest.SimpleSigning(synapse, otherDigest), good, now.Add(time.Minute))},
			StatusUnverified, true, "names " + otherDigest},
		{"bundle for another digest", synapse, []Signature{f.bundle(sigstoretest.Statement(otherDigest), good, now.Add(time.Minute))},
			StatusUnverified, true, "names " + otherDigest},
		{"attestation, not a signature", synapse, []Signature{f.bundle(attestation, good, now.Add(time.Minute))},
			StatusUnverified, true, "attestation"},
		{"tampered Rekor bundle", synapse, []Signature{tamperedRekor}, StatusUnverified, true, "Rekor entry"},
		{"tampered Sigstore bundle", synapse, []Signature{tamperedBundle}, StatusUnverified, true, "Rekor entry"},
		{"certificate of another CA", synapse, []Signature{sig(foreignCA)}, StatusUnverified, true, "leaf certificate verification failed"},
		{"untrusted Sigstore", synapse, []Signature{sig(foreignSig)}, StatusUnverified, true, "Rekor entry"},
		{"missing, required", synapse, nil, StatusUnsigned, true, "no signature found"},
		{"missing, report", "registry.test/optional/x", nil, StatusUnsigned, false, "no signature found"},
		{"not covered", "registry.test/other/x", nil, StatusNotCovered, false, "no rule"},
		{"keyed", "registry.test/keyed/x", []Signature{sig(keyed)}, StatusVerified, false, "site"},
		{"keyed and logged", "registry.test/keyed/x", []Signature{sig(keyedLogged)}, StatusVerified, false, "site"},
		{"another key", "registry.test/keyed/x", []Signature{sig(wrongKey)}, StatusUnverified, true, "not by key site"},
		{"keyless where a key is wanted", "registry.test/keyed/x", []Signature{f.cosign(payload, good, now.Add(time.Minute))}, StatusUnverified, true, "accepts only keys"},
		{"garbage", synapse, []Signature{{Referrer: "x", MediaType: BundleType, Content: []byte("{")}}, StatusUnverified, true, "unreadable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.v.Check(c.image, imageDigest, c.sigs)
			if r.Status != c.status || r.Failed() != c.fails {
				t.Fatalf("status %s, failed %v; want %s, %v: %+v", r.Status, r.Failed(), c.status, c.fails, r)
			}
			text := r.Reason()
			for _, s := range r.Signed {
				text += " " + s.Who()
			}
			if !strings.Contains(text, c.want) {
				t.Fatalf("%q does not say %q", text, c.want)
			}
			if err := r.Err(); c.fails != (err != nil) || err != nil && !errors.Is(err, ErrRefused) {
				t.Fatalf("Err() = %v", err)
			}
			if c.status == StatusVerified && r.Signed[0].Format == "" {
				t.Fatalf("signer without a format: %+v", r.Signed)
			}
		})
	}
}

// TestCheckTimes: a keyless signature's time is the Rekor entry's.
func TestCheckTimes(t *testing.T) {
	f := newFixture(t)
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	r := f.v.Check(synapse, imageDigest, []Signature{f.cosign(sigstoretest.SimpleSigning(synapse, imageDigest),
		f.keyless(workflowID, sigstoretest.GitHubIssuer, start), start.Add(30*time.Second))})
	if r.Status != StatusVerified || !r.Signed[0].Time.Equal(start.Add(30*time.Second)) {
		t.Fatalf("%+v", r)
	}
}
