package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/sigstoretest"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

const synapseWorkflow = "https://github.com/element-hq/synapse/.github/workflows/docker.yml@refs/tags/v1.159.0"

// signedWorld is an upstream whose first six distinct images are signed keyless by a test
// Sigstore, as Element's CI signs (cosign's tag form and Sigstore bundles, alternately), and
// whose next six carry one bad signature each (or none).
type signedWorld struct {
	reg               *testregistry.Registry
	list, trustedRoot string
	strict, lenient   string // policies: missing signatures fail, or are reported
	good              []digests.Image
	bad               map[string]string // image ref -> what its refusal must say
	key, allowed      string            // the bundle signing key and its allowed_signers
}

func newSignedWorld(t *testing.T) *signedWorld {
	t.Helper()
	ctx := t.Context()
	w := &signedWorld{reg: testregistry.StartT(t), bad: map[string]string{}}
	tree, err := fixture.DefaultTree()
	if err != nil {
		t.Fatal(err)
	}
	opts := fixture.Options{Registry: w.reg.Host, Size: 256 << 10, Seed: 22, Tree: tree[:24], Transport: w.reg.Transport(), Username: w.reg.Username, Password: w.reg.Password}
	images, err := fixture.Generate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var distinct []digests.Image
	seen := map[string]bool{}
	for _, im := range images {
		if !seen[im.Ref()] {
			seen[im.Ref()] = true
			distinct = append(distinct, im)
		}
	}
	if len(distinct) < 12 {
		t.Fatalf("the fixture has %d distinct images, the test needs 12", len(distinct))
	}
	distinct = distinct[:12]
	var listed []digests.Image // the containers of those twelve images
	for _, im := range images {
		for _, d := range distinct {
			if im.Ref() == d.Ref() {
				listed = append(listed, im)
			}
		}
	}
	images = listed
	ss, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	w.good = distinct[:6]
	if _, err := fixture.SignKeyless(ctx, opts, w.good, ss, synapseWorkflow, sigstoretest.GitHubIssuer); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute)
	signer := func(identity, issuer string, notBefore time.Time) *sigstoretest.Signer {
		sg, err := ss.Keyless(identity, issuer, notBefore, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return sg
	}
	good := signer(synapseWorkflow, sigstoretest.GitHubIssuer, now)
	cosign := func(im digests.Image, digest string, sg *sigstoretest.Signer, logged time.Time, tamper func(map[string]string), want string) {
		sig, err := ss.SignCosign(sigstoretest.SimpleSigning(w.reg.Host+"/"+im.Path, digest), sg, logged)
		if err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			tamper(sig.Annotations)
		}
		if _, err := fixture.AttachSignature(ctx, opts, im, fixture.FormCosign, sig.Payload, sig.Annotations); err != nil {
			t.Fatal(err)
		}
		w.bad[im.Ref()] = want
	}
	cosign(distinct[6], distinct[6].Digest, signer("https://github.com/evil/synapse/.github/workflows/docker.yml@refs/tags/v1", sigstoretest.GitHubIssuer, now),
		now.Add(30*time.Second), nil, "signed by https://github.com/evil/synapse")
	wrongIssuer, err := ss.SignBundle(sigstoretest.Statement(distinct[7].Digest), signer(synapseWorkflow, "https://accounts.google.com", now), now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixture.AttachSignature(ctx, opts, distinct[7], fixture.FormBundle, wrongIssuer, nil); err != nil {
		t.Fatal(err)
	}
	w.bad[distinct[7].Ref()] = "the identity matches, but the issuer is not " + sigstoretest.GitHubIssuer
	cosign(distinct[8], distinct[8].Digest, signer(synapseWorkflow, sigstoretest.GitHubIssuer, now.Add(-time.Hour)), time.Time{}, nil, "expired at")
	cosign(distinct[9], distinct[0].Digest, good, now.Add(30*time.Second), nil, "the signed payload names "+distinct[0].Digest)
	cosign(distinct[10], distinct[10].Digest, good, now.Add(30*time.Second), func(a map[string]string) {
		var rb map[string]any
		json.Unmarshal([]byte(a[sigstoretest.AnnotBundle]), &rb)
		rb["Payload"].(map[string]any)["logIndex"] = 7 // the SET does not cover it
		b, _ := json.Marshal(rb)
		a[sigstoretest.AnnotBundle] = string(b)
	}, "does not verify against the trusted root's Rekor keys")
	w.bad[distinct[11].Ref()] = "no signature found"

	dir := t.TempDir()
	yml, _ := digests.Marshal(images)
	w.list = filepath.Join(dir, "images.yml")
	root, err := ss.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	w.trustedRoot = filepath.Join(dir, "trusted_root.json")
	policy := func(missing string) string {
		return fmt.Sprintf(`version: 1
rules:
  - name: element
    images: ["%s/**"]
    signers:
      - keyless:
          identityRegexp: 'https://github\.com/element-hq/synapse/\.github/workflows/docker\.yml@refs/tags/v.+'
          issuer: %s
    missing: %s
`, w.reg.Host, sigstoretest.GitHubIssuer, missing)
	}
	w.strict, w.lenient = filepath.Join(dir, "strict.yaml"), filepath.Join(dir, "lenient.yaml")
	for p, data := range map[string]string{w.list: string(yml), w.trustedRoot: string(root), w.strict: policy("fail"), w.lenient: policy("report")} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var fp string
	w.key, fp = sshKey(t, dir, "release")
	_ = fp
	pub, _ := os.ReadFile(w.key + ".pub")
	w.allowed = filepath.Join(dir, "allowed_signers")
	os.WriteFile(w.allowed, []byte("release@example.org namespaces=\"ess-airgap-bundle\" "+string(pub)), 0o644)
	return w
}

// TestProvenance: bundle create --policy checks every image's signatures (keyless, by a test
// Sigstore: cosign's .sig tags and Sigstore bundle referrers) and leaves out, with its reason,
// each image signed by the wrong identity, from the wrong issuer, with an expired certificate
// and no Rekor entry, for another digest, with a tampered Rekor bundle, or not at all (exit 4);
// under "missing: report" they are carried and reported. On the bastion, unbundle verify and
// push check them again offline, in a network namespace whose only route is to the local
// registry: the carried policy once --public-key checked the bundle's signature, or --policy
// and --trusted-root; a refused image stops the push before any byte reaches the registry.
func TestProvenance(t *testing.T) {
	w := newSignedWorld(t)
	dir := t.TempDir()

	strict := filepath.Join(dir, "strict.tar.zst")
	// --allow-partial: the refused images are left out of a bundle that lists them as missing
	// (without it, a create that failed images writes no bundle at all).
	r := runCmd("bundle", nil, "create", "--images", w.list, "--output", strict, "--policy", w.strict, "--trusted-root", w.trustedRoot, "--sign-key", w.key, "--allow-partial")
	if r.code != 4 {
		t.Fatalf("create --policy strict exited %d, want 4:\n%s", r.code, r.stderr)
	}
	for ref, want := range w.bad {
		if !hasLine(r.stderr, "FAILED", ref[:strings.LastIndex(ref, ":")]+"@", want) {
			t.Errorf("create does not refuse %s saying %q:\n%s", ref, want, r.stderr)
		}
	}
	m := mustOpenManifest(t, strict)
	if m.Provenance == nil || len(m.Provenance.Images) != len(w.good) || m.Provenance.TrustedRoot == nil {
		t.Fatalf("the bundle records %+v, want the %d good images", m.Provenance, len(w.good))
	}
	for _, ip := range m.Provenance.Images {
		if ip.Status != "verified" || len(ip.Signers) == 0 || ip.Signers[0].Identity != synapseWorkflow {
			t.Errorf("recorded %+v", ip)
		}
	}
	list := must(t, runCmd("unbundle", nil, "list", strict)).stdout
	if strings.Count(list, "signed by "+synapseWorkflow+" ("+sigstoretest.GitHubIssuer+")") < len(w.good) {
		t.Errorf("unbundle list does not show who signed each image:\n%s", list)
	}

	lenient := filepath.Join(dir, "lenient.tar.zst")
	r = must(t, runCmd("bundle", nil, "create", "--images", w.list, "--output", lenient, "--policy", w.lenient, "--trusted-root", w.trustedRoot, "--sign-key", w.key))
	if !strings.Contains(r.stderr, "6 images verified, 6 reported") {
		t.Errorf("create --policy lenient says:\n%s", r.stderr)
	}

	ns := newNetns(t)
	dest := testregistry.StartT(t)
	host := ns.forward(t, dest.Host)

	// The carried policy and trusted root, trusted through the bundle's checked signature.
	// (--allow-partial: the bundle lacks the images the strict policy refused.)
	r = ns.run("unbundle", "push", strict, "--registry", host, "--plain-http", "--public-key", w.allowed, "--configmap", filepath.Join(dir, "cm.yaml"), "--allow-partial")
	if r.code != 0 || !strings.Contains(r.stderr, "6 images verified, 0 reported (not required), 0 refused") {
		t.Fatalf("push of the strict bundle in the namespace: exit %d:\n%s", r.code, r.stderr)
	}
	// The operator's own policy and root; the lenient bundle carries the bad signatures.
	r = ns.run("unbundle", "verify", lenient, "--policy", w.strict, "--trusted-root", w.trustedRoot)
	if r.code != 3 {
		t.Fatalf("verify --policy strict of the lenient bundle exited %d, want 3:\n%s%s", r.code, r.stdout, r.stderr)
	}
	dest2 := testregistry.StartT(t)
	host2 := ns.forward(t, dest2.Host)
	r = ns.run("unbundle", "push", lenient, "--registry", host2, "--plain-http", "--policy", w.strict, "--trusted-root", w.trustedRoot)
	if r.code != 3 {
		t.Fatalf("push --policy strict of the lenient bundle exited %d, want 3:\n%s", r.code, r.stderr)
	}
	for ref, want := range w.bad {
		if !hasLine(r.stderr, "REFUSED", ref[:strings.LastIndex(ref, ":")]+"@", want) {
			t.Errorf("push does not refuse %s saying %q:\n%s", ref, want, r.stderr)
		}
	}
	if n := dest2.Requests(); n != 0 {
		t.Errorf("the refused push sent %d requests to the registry", n)
	}
	// A carried policy whose bundle signature was not checked is not trusted.
	r = ns.run("unbundle", "push", lenient, "--registry", host2, "--plain-http")
	if r.code != 2 || !strings.Contains(r.stderr, "not trusted") {
		t.Errorf("push of a policy bundle without --public-key or --policy: exit %d:\n%s", r.code, r.stderr)
	}
	// The carried lenient policy reports, and passes.
	r = ns.run("unbundle", "verify", lenient, "--public-key", w.allowed)
	if r.code != 0 || !strings.Contains(r.stderr, "6 images verified, 6 reported") {
		t.Errorf("verify of the lenient bundle with its carried policy: exit %d:\n%s", r.code, r.stderr)
	}
}

// hasLine reports whether some line of out has every one of words.
func hasLine(out string, words ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return true
		}
	}
	return false
}
