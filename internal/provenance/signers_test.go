package provenance

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/sigstoretest"
)

// indent is text with every line indented by n spaces, for a PEM inside a YAML block.
func indent(text []byte, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		lines = append(lines, strings.Repeat(" ", n)+l)
	}
	return strings.Join(lines, "\n")
}

// keysPolicy is a policy whose one rule accepts the keys given, in order, and one identity.
func keysPolicy(t *testing.T, keys ...*sigstoretest.Signer) *Policy {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n  - name: keys\n    images: [\"registry.test/**\"]\n    signers:\n")
	for i, k := range keys {
		fmt.Fprintf(&b, "      - key:\n          name: key%d\n          publicKey: |\n%s\n", i+1, indent(k.PublicKeyPEM(), 12))
	}
	fmt.Fprintf(&b, "      - keyless: {identity: %s, issuer: %s}\n", workflowID, sigstoretest.GitHubIssuer)
	p, err := ParsePolicy("keys.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckKeys: the first key of the rule that verifies is the signer, whichever its place;
// a keyed Sigstore bundle verifies as a keyed cosign signature does.
func TestCheckKeys(t *testing.T) {
	f := newFixture(t)
	k1, _ := sigstoretest.NewKey()
	k2, _ := sigstoretest.NewKey()
	stranger, _ := sigstoretest.NewKey()
	tr, _ := f.ss.TrustedRoot()
	trusted, err := ParseTrustedRoot("tr.json", tr)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(keysPolicy(t, k1, k2), trusted)
	payload := sigstoretest.SimpleSigning(synapse, imageDigest)
	cosignBy := func(k *sigstoretest.Signer, at time.Time) Signature {
		c, err := f.ss.SignCosign(payload, k, at)
		if err != nil {
			t.Fatal(err)
		}
		return Signature{Referrer: "ref", MediaType: SimpleSigningType, Annotations: c.Annotations, Content: c.Payload}
	}
	bundleBy := func(k *sigstoretest.Signer, at time.Time) Signature {
		b, err := f.ss.SignBundle(sigstoretest.Statement(imageDigest), k, at)
		if err != nil {
			t.Fatal(err)
		}
		return Signature{Referrer: "ref", MediaType: BundleType, Content: b}
	}
	now := time.Now().Add(-time.Minute)

	cases := []struct {
		name   string
		sigs   []Signature
		status string
		signer string // the key named, or a word of the reason
	}{
		{"first key", []Signature{cosignBy(k1, time.Time{})}, StatusVerified, "key key1 (sha256:"},
		{"second key", []Signature{cosignBy(k2, time.Time{})}, StatusVerified, "key key2 (sha256:"},
		{"second key, logged", []Signature{cosignBy(k2, now)}, StatusVerified, "key key2"},
		{"keyed bundle", []Signature{bundleBy(k1, time.Time{})}, StatusVerified, "key key1"},
		{"keyed bundle, logged", []Signature{bundleBy(k2, now)}, StatusVerified, "key key2"},
		{"a stranger's key", []Signature{cosignBy(stranger, time.Time{})}, StatusUnverified, "not by key key1"},
		{"a stranger's bundle", []Signature{bundleBy(stranger, time.Time{})}, StatusUnverified, "not by key key2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := v.Check("registry.test/x", imageDigest, c.sigs)
			text := r.Reason()
			for _, s := range r.Signed {
				text += s.Who()
			}
			if r.Status != c.status || !strings.Contains(text, c.signer) {
				t.Fatalf("%s, %q; want %s, %q", r.Status, text, c.status, c.signer)
			}
		})
	}

	// Both keys fail for a stranger: the reason names each.
	r := v.Check("registry.test/x", imageDigest, []Signature{cosignBy(stranger, time.Time{})})
	if reason := r.Reason(); !strings.Contains(reason, "key1") || !strings.Contains(reason, "key2") || !strings.Contains(reason, "ref") {
		t.Errorf("reason %q names neither both keys nor the referrer", reason)
	}
}

// TestCheckKeylessIdentities: among several identities, the one that matches is the signer.
func TestCheckKeylessIdentities(t *testing.T) {
	f := newFixture(t)
	tr, _ := f.ss.TrustedRoot()
	trusted, _ := ParseTrustedRoot("tr.json", tr)
	p, err := ParsePolicy("p.yaml", []byte(`version: 1
rules:
  - images: ["**"]
    signers:
      - keyless: {identity: someone@example.org, issuer: https://accounts.example.org}
      - keyless: {identityRegexp: 'https://github\.com/element-hq/.+', issuerRegexp: 'https://token\.actions\.githubusercontent\.com'}
`))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(p, trusted)
	now := time.Now().Add(-time.Minute)
	sign := func(identity, issuer string) Signature {
		sg := f.keyless(identity, issuer, now)
		return f.cosign(sigstoretest.SimpleSigning(synapse, imageDigest), sg, now.Add(time.Minute))
	}
	r := v.Check(synapse, imageDigest, []Signature{sign(workflowID, sigstoretest.GitHubIssuer)})
	if r.Status != StatusVerified || r.Signed[0].Identity != workflowID || r.Signed[0].Issuer != sigstoretest.GitHubIssuer {
		t.Fatalf("%+v", r)
	}
	r = v.Check(synapse, imageDigest, []Signature{sign("someone@example.org", "https://accounts.example.org")})
	if r.Status != StatusVerified || r.Signed[0].Identity != "someone@example.org" {
		t.Fatalf("e-mail identity: %+v", r)
	}
	// The issuer regexp is anchored: a longer issuer that starts the same does not match.
	r = v.Check(synapse, imageDigest, []Signature{sign(workflowID, sigstoretest.GitHubIssuer+".evil.example")})
	if r.Status != StatusUnverified || !strings.Contains(r.Reason(), "issuer is not one matching") {
		t.Fatalf("issuer regexp not anchored: %+v", r)
	}
	// Two good signatures are both reported.
	r = v.Check(synapse, imageDigest, []Signature{sign(workflowID, sigstoretest.GitHubIssuer), sign("someone@example.org", "https://accounts.example.org")})
	if r.Status != StatusVerified || len(r.Signed) != 2 || len(r.Problems) != 0 {
		t.Fatalf("two signers: %+v", r)
	}
}

// TestCheckWithoutTrustedRoot: with no trusted root, a keyed, unlogged signature still
// verifies; a logged one or a keyless one fails and says why.
func TestCheckWithoutTrustedRoot(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.policy, nil)
	payload := sigstoretest.SimpleSigning(synapse, imageDigest)
	keyed, _ := f.ss.SignCosign(payload, f.key, time.Time{})
	logged, _ := f.ss.SignCosign(payload, f.key, time.Now())
	now := time.Now().Add(-time.Minute)
	keyless := f.cosign(payload, f.keyless(workflowID, sigstoretest.GitHubIssuer, now), now.Add(time.Minute))
	asSig := func(c *sigstoretest.Cosign) Signature {
		return Signature{Referrer: "r", MediaType: SimpleSigningType, Annotations: c.Annotations, Content: c.Payload}
	}
	if r := v.Check("registry.test/keyed/a", imageDigest, []Signature{asSig(keyed)}); r.Status != StatusVerified {
		t.Errorf("keyed, unlogged: %+v", r)
	}
	if r := v.Check("registry.test/keyed/a", imageDigest, []Signature{asSig(logged)}); r.Status != StatusUnverified ||
		!strings.Contains(r.Reason(), "no trusted root to check it against") {
		t.Errorf("keyed, logged: %+v", r)
	}
	if r := v.Check(synapse, imageDigest, []Signature{keyless}); r.Status != StatusUnverified ||
		!strings.Contains(r.Reason(), "no trusted root to check the certificate") {
		t.Errorf("keyless: %+v", r)
	}
}

// TestCheckUnlogged: a keyless signature that carries neither a Rekor entry nor a timestamp
// fails even while its certificate is valid: nothing shows when it was made.
func TestCheckUnlogged(t *testing.T) {
	f := newFixture(t)
	sg := f.keyless(workflowID, sigstoretest.GitHubIssuer, time.Now().Add(-time.Minute))
	r := f.v.Check(synapse, imageDigest, []Signature{f.cosign(sigstoretest.SimpleSigning(synapse, imageDigest), sg, time.Time{})})
	if r.Status != StatusUnverified || !strings.Contains(r.Reason(), "carries no Rekor entry") || strings.Contains(r.Reason(), "expired") {
		t.Fatalf("%+v", r)
	}
	b, err := f.ss.SignBundle(sigstoretest.Statement(imageDigest), sg, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r = f.v.Check(synapse, imageDigest, []Signature{{Referrer: "r", MediaType: BundleType, Content: b}})
	if r.Status != StatusUnverified || !strings.Contains(r.Reason(), "carries no Rekor entry") {
		t.Fatalf("bundle: %+v", r)
	}
	// A keyed signature where the rule names only identities.
	keyed, _ := f.ss.SignCosign(sigstoretest.SimpleSigning(synapse, imageDigest), f.key, time.Time{})
	r = f.v.Check(synapse, imageDigest, []Signature{{Referrer: "r", MediaType: SimpleSigningType, Annotations: keyed.Annotations, Content: keyed.Payload}})
	if r.Status != StatusUnverified || !strings.Contains(r.Reason(), "accepts only keyless identities") {
		t.Fatalf("keyed for a keyless rule: %+v", r)
	}
}

// TestCheckConcurrent: a Verifier is safe for concurrent use, and every caller gets the same
// verdict (run with -race).
func TestCheckConcurrent(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Add(-time.Minute)
	good := f.cosign(sigstoretest.SimpleSigning(synapse, imageDigest), f.keyless(workflowID, sigstoretest.GitHubIssuer, now), now.Add(time.Minute))
	bad := f.cosign(sigstoretest.SimpleSigning(synapse, otherDigest), f.keyless(workflowID, sigstoretest.GitHubIssuer, now), now.Add(time.Minute))
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sigs := []Signature{bad, good}
			if i%2 == 1 {
				sigs = []Signature{bad}
			}
			results[i] = f.v.Check(synapse, imageDigest, sigs)
		}()
	}
	wg.Wait()
	for i, r := range results {
		want := StatusVerified
		if i%2 == 1 {
			want = StatusUnverified
		}
		if r.Status != want || len(r.Problems) != 1 {
			t.Errorf("goroutine %d: %s with %d problems, want %s with 1", i, r.Status, len(r.Problems), want)
		}
	}
}

// TestResultJSON: the report's form of a verdict: a keyed signature without a log has no
// time; a keyless one has identity, issuer and time; a refused image says which rule.
func TestResultJSON(t *testing.T) {
	f := newFixture(t)
	keyed, _ := f.ss.SignCosign(sigstoretest.SimpleSigning(synapse, imageDigest), f.key, time.Time{})
	r := f.v.Check("registry.test/keyed/a", imageDigest, []Signature{{Referrer: "ref", MediaType: SimpleSigningType, Annotations: keyed.Annotations, Content: keyed.Payload}})
	var got map[string]any
	b, _ := json.Marshal(r)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	signer := got["signed"].([]any)[0].(map[string]any)
	if got["status"] != StatusVerified || got["rule"] != "keyed" || got["missing"] != MissingFail || got["problems"] != nil {
		t.Errorf("verdict %s", b)
	}
	if _, ok := signer["time"]; ok || signer["format"] != "cosign" || signer["referrer"] != "ref" || !strings.HasPrefix(signer["key"].(string), "site (sha256:") {
		t.Errorf("keyed signer %s", b)
	}
	if _, ok := signer["identity"]; ok {
		t.Errorf("a keyed signer with an identity: %s", b)
	}
	if r.Reason() != "" || r.Err() != nil {
		t.Errorf("verified, yet reason %q, err %v", r.Reason(), r.Err())
	}

	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	r = f.v.Check(synapse, imageDigest, []Signature{f.cosign(sigstoretest.SimpleSigning(synapse, imageDigest), f.keyless(workflowID, sigstoretest.GitHubIssuer, now), now)})
	b, _ = json.Marshal(r.Signed[0])
	var s Signed
	if err := json.Unmarshal(b, &s); err != nil || !s.Time.Equal(now) || s.Identity != workflowID || s.Issuer != sigstoretest.GitHubIssuer || s.Key != "" {
		t.Errorf("keyless signer %s (%v)", b, err)
	}
	if who := s.Who(); who != workflowID+" ("+sigstoretest.GitHubIssuer+")" {
		t.Errorf("Who() = %q", who)
	}

	r = f.v.Check(synapse, imageDigest, nil)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "rule synapse") || !strings.Contains(err.Error(), "no signature found") {
		t.Errorf("refusal %v does not name the rule and the reason", err)
	}
}
