package provenance

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/sigstoretest"
	fulcio "github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// TestParsePolicyRefuses: every malformed policy is refused with ErrPolicy, naming the file
// and what is wrong.
func TestParsePolicyRefuses(t *testing.T) {
	bomb := "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 6; i++ {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	bomb += "rules: []\n"
	rule := "version: 1\nrules:\n  - images: [x.io/a]\n    signers: [{keyless: {identity: a@b, issuer: https://i}}]\n"
	cases := []struct{ name, data, want string }{
		{"not yaml", "version: [", "policy.yaml"},
		{"alias bomb", bomb, "YAML nodes"},
		{"too large", "# " + strings.Repeat("x", MaxPolicySize), "bytes"},
		{"version", strings.Replace(rule, "version: 1", "version: 2", 1), "version 2"},
		{"no rules", "version: 1\nrules: []\n", "0 rules"},
		{"unknown field", rule + "    mising: report\n", "mising"},
		{"no images", "version: 1\nrules:\n  - signers: [{keyless: {identity: a@b, issuer: https://i}}]\n", "image patterns"},
		{"tag in pattern", strings.Replace(rule, "x.io/a", "x.io/a:1.0", 1), "no tag"},
		{"digest in pattern", strings.Replace(rule, "x.io/a", "x.io/a@sha256:00", 1), "no tag"},
		{"missing word", rule + "    missing: warn\n", "missing"},
		{"nothing can pass", "version: 1\nrules:\n  - images: [x.io/a]\n", "no signers"},
		{"both identities", strings.Replace(rule, "identity: a@b", "identity: a@b, identityRegexp: a", 1), "exactly one of identity"},
		{"no issuer", strings.Replace(rule, ", issuer: https://i", "", 1), "exactly one of issuer"},
		{"bad regexp", strings.Replace(rule, "identity: a@b", "identityRegexp: '('", 1), "keyless"},
		{"keyless and key", strings.Replace(rule, "{keyless:", "{key: {publicKey: x}, keyless:", 1), "exactly one of keyless and key"},
		{"bad key", strings.Replace(rule, "{keyless: {identity: a@b, issuer: https://i}}", "{key: {publicKey: 'not a key'}}", 1), "PUBLIC KEY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy("policy.yaml", []byte(c.data))
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "policy.yaml") {
				t.Fatalf("got %v, want ErrPolicy naming policy.yaml and saying %q", err, c.want)
			}
		})
	}
}

// TestPolicyMatch: the first rule that names an image applies; * stays within a path element,
// ** crosses them; an identity regexp must match the whole identity.
func TestPolicyMatch(t *testing.T) {
	p, err := ParsePolicy("p", []byte(`version: 1
rules:
  - name: one
    images: [ghcr.io/element-hq/synapse]
    signers: [{keyless: {identityRegexp: 'https://github\.com/element-hq/synapse/.+', issuer: https://i}}]
  - name: star
    images: ["ghcr.io/element-hq/*"]
    missing: report
  - name: all
    images: ["**"]
    missing: report
`))
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"ghcr.io/element-hq/synapse":               "one",
		"ghcr.io/element-hq/synapse-x":             "star",
		"ghcr.io/element-hq/ess-helm/matrix-tools": "all",
		"docker.io/library/redis":                  "all",
	} {
		if r := p.Match(image); r == nil || r.Label() != want {
			t.Errorf("%s: rule %v, want %s", image, r, want)
		}
	}
	k := p.Rules[0].Signers[0].Keyless
	for id, ok := range map[string]bool{
		"https://github.com/element-hq/synapse/.github/workflows/docker.yml@refs/tags/v1": true,
		"evil https://github.com/element-hq/synapse/x":                                    false,
	} {
		if err := k.id.SubjectAlternativeName.Verify(summaryOf(id)); (err == nil) != ok {
			t.Errorf("identity %q: %v, want match %v", id, err, ok)
		}
	}
}

// TestESSPolicyExample: the example policy of the docs parses, and names every image of the
// ESS chart's defaults.
func TestESSPolicyExample(t *testing.T) {
	data, err := os.ReadFile("../../docs/ess-provenance-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy("ess-provenance-policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"ghcr.io/element-hq/synapse":                       MissingFail,
		"oci.element.io/synapse":                           MissingReport,
		"ghcr.io/element-hq/element-web":                   MissingFail,
		"docker.io/vectorim/element-web":                   MissingFail,
		"ghcr.io/element-hq/matrix-authentication-service": MissingFail,
		"ghcr.io/element-hq/ess-helm/matrix-tools":         MissingReport,
		"docker.io/library/postgres":                       MissingReport,
	} {
		r := p.Match(image)
		if r == nil || r.Missing != want {
			t.Errorf("%s: rule %+v, want missing: %s", image, r, want)
		}
	}
	if !p.NeedsTrustedRoot() {
		t.Error("the ESS policy has keyless signers")
	}
}

// TestParseTrustedRoot: a trusted root is read; garbage and oversize are refused.
func TestParseTrustedRoot(t *testing.T) {
	ss, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	data, err := ss.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTrustedRoot("tr.json", data); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{[]byte("{}"), []byte("not json"), make([]byte, MaxTrustedRootSize+1)} {
		if _, err := ParseTrustedRoot("tr.json", bad); !errors.Is(err, ErrTrustedRoot) || !strings.Contains(err.Error(), "tr.json") {
			t.Errorf("%.20q: %v", bad, err)
		}
	}
}

func summaryOf(san string) fulcio.Summary {
	return fulcio.Summary{SubjectAlternativeName: san}
}

// TestGlobRegexp: * stays within a path element, ** crosses them, every other character is
// itself (a dot is not a wildcard), a port is allowed after the host, a tag or digest is not.
func TestGlobRegexp(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"docker.io/library/redis", []string{"docker.io/library/redis"},
			[]string{"docker.io/library/redis2", "xdocker.io/library/redis", "docker.io/library", "dockerXio/library/redis"}},
		{"docker.io/library/*", []string{"docker.io/library/redis", "docker.io/library/"},
			[]string{"docker.io/library/a/b", "docker.io/librar/redis"}},
		{"ghcr.io/*/synapse", []string{"ghcr.io/element-hq/synapse"}, []string{"ghcr.io/a/b/synapse", "ghcr.io/element-hq/synapse/x"}},
		{"ghcr.io/**", []string{"ghcr.io/a", "ghcr.io/a/b/c"}, []string{"docker.io/a", "ghcr.io"}},
		{"**/redis", []string{"docker.io/library/redis", "x/redis"}, []string{"docker.io/library/redis-x"}},
		{"localhost:5000/a/*", []string{"localhost:5000/a/b"}, []string{"localhost:5001/a/b", "localhost/a/b"}},
		{"reg.test/a+b(c)", []string{"reg.test/a+b(c)"}, []string{"reg.test/aab(c)", "reg.test/abc"}},
	}
	for _, c := range cases {
		re, err := globRegexp(c.pattern)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		for _, m := range c.match {
			if !re.MatchString(m) {
				t.Errorf("%s does not match %s", c.pattern, m)
			}
		}
		for _, m := range c.miss {
			if re.MatchString(m) {
				t.Errorf("%s matches %s", c.pattern, m)
			}
		}
	}
	for _, bad := range []string{"", "x.io/a b", "x.io/a\tb", "x.io/a\nb", "x.io/a:1", "x.io/a@sha256:00", "x.io/a/b:latest"} {
		if _, err := globRegexp(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// TestPolicyDefaults: missing defaults to fail; a rule is labelled by its name, else its first
// pattern; the file is kept as read; a rule without signers is allowed when it only reports.
func TestPolicyDefaults(t *testing.T) {
	data := []byte(`version: 1
rules:
  - images: [a.io/x, a.io/y]
    signers: [{keyless: {identity: a@b, issuer: https://i}}]
  - name: reported
    images: ["b.io/**"]
    missing: report
`)
	p, err := ParsePolicy("p.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Raw) != string(data) {
		t.Error("Raw is not the file as read")
	}
	if r := p.Match("a.io/y"); r == nil || r.Missing != MissingFail || r.Label() != "a.io/x" {
		t.Errorf("a.io/y: %+v", r)
	}
	if r := p.Match("b.io/c/d"); r == nil || r.Missing != MissingReport || r.Label() != "reported" || len(r.Signers) != 0 {
		t.Errorf("b.io/c/d: %+v", r)
	}
	if r := p.Match("c.io/x"); r != nil {
		t.Errorf("c.io/x matched rule %s", r.Label())
	}
	// Document markers around the one document are fine.
	for _, framed := range []string{"---\n" + string(data), string(data) + "...\n", string(data) + "---\n", string(data) + "---\n# end\n---\n"} {
		if _, err := ParsePolicy("p.yaml", []byte(framed)); err != nil {
			t.Errorf("%q: %v", framed, err)
		}
	}
}

// TestParsePolicyLimits: the bounds on rules, signers and nesting hold.
func TestParsePolicyLimits(t *testing.T) {
	signer := "{keyless: {identity: a@b, issuer: https://i}}"
	var rules strings.Builder
	rules.WriteString("version: 1\nrules:\n")
	for i := 0; i <= maxRules; i++ {
		rules.WriteString("  - {images: [x.io/a], missing: report}\n")
	}
	deep := "version: 1\nrules: " + strings.Repeat("[", 120) + strings.Repeat("]", 120) + "\n"
	cases := []struct{ name, data, want string }{
		{"too many rules", rules.String(), "1001 rules"},
		{"too many signers", "version: 1\nrules:\n  - images: [x.io/a]\n    signers: [" + strings.Repeat(signer+", ", maxSignersRule) + signer + "]\n", "101 signers"},
		{"too deep", deep, "YAML nodes"},
		{"empty", "", "version 0"},
		{"two documents", "version: 1\nrules: [{images: [x.io/a], missing: report}]\n---\nversion: 2\n", "more than one YAML document"},
		{"a second document of null", "version: 1\nrules: [{images: [x.io/a], missing: report}]\n---\nnull\n", "more than one YAML document"},
		{"a broken second document", "version: 1\nrules: [{images: [x.io/a], missing: report}]\n---\n[\n", "more than one YAML document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy("p.yaml", []byte(c.data))
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrPolicy saying %q", err, c.want)
			}
		})
	}
}

// TestSignerString: how a signer is named in messages.
func TestSignerString(t *testing.T) {
	key := &Key{Name: "site", id: "sha256:ab"}
	cases := []struct {
		s    Signer
		want string
	}{
		{Signer{Key: key}, "key site (sha256:ab)"},
		{Signer{Key: &Key{id: "sha256:cd"}}, "key sha256:cd"},
		{Signer{Keyless: &Keyless{Identity: "a@b", Issuer: "https://i"}}, "identity a@b from issuer https://i"},
		{Signer{Keyless: &Keyless{IdentityRegexp: "a.*", IssuerRegexp: "https://.*"}}, "identity matching a.* from issuer matching https://.*"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

// TestNeedsTrustedRoot: only a policy with a keyless signer needs a trusted root.
func TestNeedsTrustedRoot(t *testing.T) {
	key, err := sigstoretest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyed := "version: 1\nrules:\n  - images: [x.io/a]\n    signers:\n      - key:\n          publicKey: |\n" + indent(key.PublicKeyPEM(), 12) + "\n  - images: [y.io/a]\n    missing: report\n"
	p, err := ParsePolicy("p.yaml", []byte(keyed))
	if err != nil {
		t.Fatal(err)
	}
	if p.NeedsTrustedRoot() {
		t.Error("a policy of keys needs no trusted root")
	}
	id := p.Rules[0].Signers[0].Key.id
	if !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+64 {
		t.Errorf("key id %q", id)
	}
	p, err = ParsePolicy("p.yaml", []byte(keyed+"  - images: [z.io/a]\n    signers: [{keyless: {identity: a@b, issuer: https://i}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.NeedsTrustedRoot() {
		t.Error("a keyless signer in the last rule needs a trusted root")
	}
}
