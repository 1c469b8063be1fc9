package provenance

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/verify"
	"go.yaml.in/yaml/v3"
)

// Limits on a policy file: it is read from a bundle on the bastion too.
const (
	MaxPolicySize   = 1 << 20 // bytes
	maxPolicyNodes  = 20000   // YAML nodes, aliases expanded
	maxRules        = 1000
	maxSignersRule  = 100
	maxPatternsRule = 1000
)

// What a rule does when no signature of an image satisfies it.
const (
	MissingFail   = "fail"   // the image fails (bundle create leaves it out; push pushes nothing)
	MissingReport = "report" // the image goes on, and the report says why it is not verified
)

// Policy says, for image name patterns, who must have signed. The first rule whose images
// match an image's name applies; an image no rule matches is not covered (reported).
type Policy struct {
	Version int    `yaml:"version"`
	Rules   []Rule `yaml:"rules"`
	// Raw is the file as read, carried in the bundle as it is.
	Raw []byte `yaml:"-"`
}

// Rule is one entry of a policy.
type Rule struct {
	Name string `yaml:"name"`
	// Images are name patterns "server/path" (docker.io/library/redis): * matches within a
	// path element, ** across elements.
	Images  []string `yaml:"images"`
	Signers []Signer `yaml:"signers"`
	// Missing is MissingFail (the default) or MissingReport.
	Missing string `yaml:"missing"`

	patterns []*regexp.Regexp
}

// Signer is one acceptable signer: exactly one of Keyless and Key.
type Signer struct {
	Keyless *Keyless `yaml:"keyless"`
	Key     *Key     `yaml:"key"`
}

// Keyless is a Fulcio certificate's identity (its subject alternative name) and OIDC issuer,
// each exact or a regular expression matching the whole value.
type Keyless struct {
	Identity       string `yaml:"identity"`
	IdentityRegexp string `yaml:"identityRegexp"`
	Issuer         string `yaml:"issuer"`
	IssuerRegexp   string `yaml:"issuerRegexp"`

	id verify.CertificateIdentity
}

// Key is a public key (PEM, PKIX), as `cosign verify --key` takes it.
type Key struct {
	Name      string `yaml:"name"`
	PublicKey string `yaml:"publicKey"`

	pub crypto.PublicKey
	id  string // "sha256:<hex of the PKIX key>", for messages and hints
}

// ParsePolicy reads a policy file: at most MaxPolicySize bytes and maxPolicyNodes YAML nodes
// (aliases counted as expanded), one YAML document (an empty one may follow), no unknown field, every pattern,
// expression and key valid.
// Errors wrap ErrPolicy and name the file (name) and the rule.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%w %s: %d bytes, more than the %d allowed", ErrPolicy, name, len(data), MaxPolicySize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrPolicy, name, err)
	}
	if n := countNodes(&doc, maxPolicyNodes+1); n > maxPolicyNodes {
		return nil, fmt.Errorf("%w %s: more than %d YAML nodes (aliases expanded): not a policy", ErrPolicy, name, maxPolicyNodes)
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w %s: %v", ErrPolicy, name, err)
	}
	for { // a later document would be silently ignored: refuse it, unless it is empty
		var more yaml.Node
		err := dec.Decode(&more)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || !emptyDocument(&more) {
			return nil, fmt.Errorf("%w %s: more than one YAML document (---); a policy is one document", ErrPolicy, name)
		}
	}
	if p.Version != 1 {
		return nil, fmt.Errorf("%w %s: version %d; this tool reads version: 1", ErrPolicy, name, p.Version)
	}
	if len(p.Rules) == 0 || len(p.Rules) > maxRules {
		return nil, fmt.Errorf("%w %s: %d rules; give 1 to %d", ErrPolicy, name, len(p.Rules), maxRules)
	}
	for i := range p.Rules {
		if err := p.Rules[i].compile(i); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrPolicy, name, err)
		}
	}
	p.Raw = data
	return &p, nil
}

// Match returns the rule for an image name ("server/path"), or nil when none matches.
func (p *Policy) Match(image string) *Rule {
	for i := range p.Rules {
		for _, re := range p.Rules[i].patterns {
			if re.MatchString(image) {
				return &p.Rules[i]
			}
		}
	}
	return nil
}

// Label names the rule in messages: its name, else its first pattern.
func (r *Rule) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Images[0]
}

func (r *Rule) compile(i int) error {
	what := fmt.Sprintf("rule %d", i+1)
	if r.Name != "" {
		what += " (" + r.Name + ")"
	}
	if len(r.Images) == 0 || len(r.Images) > maxPatternsRule {
		return fmt.Errorf("%s: %d image patterns; give 1 to %d", what, len(r.Images), maxPatternsRule)
	}
	for _, pat := range r.Images {
		re, err := globRegexp(pat)
		if err != nil {
			return fmt.Errorf("%s: image pattern %q: %v", what, pat, err)
		}
		r.patterns = append(r.patterns, re)
	}
	switch r.Missing {
	case "":
		r.Missing = MissingFail
	case MissingFail, MissingReport:
	default:
		return fmt.Errorf("%s: missing: %q; say %s or %s", what, r.Missing, MissingFail, MissingReport)
	}
	if len(r.Signers) > maxSignersRule {
		return fmt.Errorf("%s: %d signers, at most %d", what, len(r.Signers), maxSignersRule)
	}
	if len(r.Signers) == 0 && r.Missing == MissingFail {
		return fmt.Errorf("%s: no signers, and missing: fail: no image could pass; name signers, or say missing: report", what)
	}
	for j := range r.Signers {
		if err := r.Signers[j].compile(); err != nil {
			return fmt.Errorf("%s: signer %d: %v", what, j+1, err)
		}
	}
	return nil
}

func (s *Signer) compile() error {
	switch {
	case (s.Keyless == nil) == (s.Key == nil):
		return errors.New("give exactly one of keyless and key")
	case s.Keyless != nil:
		k := s.Keyless
		if (k.Identity == "") == (k.IdentityRegexp == "") {
			return errors.New("keyless: give exactly one of identity and identityRegexp")
		}
		if (k.Issuer == "") == (k.IssuerRegexp == "") {
			return errors.New("keyless: give exactly one of issuer and issuerRegexp")
		}
		var err error
		k.id, err = verify.NewShortCertificateIdentity(k.Issuer, anchored(k.IssuerRegexp), k.Identity, anchored(k.IdentityRegexp))
		if err != nil {
			return fmt.Errorf("keyless: %v", err)
		}
	default:
		block, rest := pem.Decode([]byte(s.Key.PublicKey))
		if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) > 0 {
			return errors.New("key: publicKey must be one PEM block of type PUBLIC KEY (cosign.pub)")
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("key: publicKey: %v", err)
		}
		sum := sha256.Sum256(block.Bytes)
		s.Key.pub, s.Key.id = pub, "sha256:"+hex.EncodeToString(sum[:])
	}
	return nil
}

// String describes the signer for messages.
func (s Signer) String() string {
	if s.Key != nil {
		if s.Key.Name != "" {
			return "key " + s.Key.Name + " (" + s.Key.id + ")"
		}
		return "key " + s.Key.id
	}
	k := s.Keyless
	id, iss := k.Identity, k.Issuer
	if id == "" {
		id = "matching " + k.IdentityRegexp
	}
	if iss == "" {
		iss = "matching " + k.IssuerRegexp
	}
	return "identity " + id + " from issuer " + iss
}

// anchored makes a regular expression match the whole value ("" stays "").
func anchored(re string) string {
	if re == "" {
		return ""
	}
	return "^(?:" + re + ")$"
}

// globRegexp turns an image pattern into a regular expression: ** is anything, * anything
// but '/', every other character itself.
func globRegexp(pat string) (*regexp.Regexp, error) {
	_, path, _ := strings.Cut(pat, "/") // a port may follow the host, a tag may not follow the path
	if pat == "" || strings.ContainsAny(pat, " \t\n@") || strings.Contains(path, ":") {
		return nil, errors.New("a pattern is server/path, with * and **, no tag or digest")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		switch {
		case strings.HasPrefix(pat[i:], "**"):
			b.WriteString(".*")
			i++
		case pat[i] == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// emptyDocument reports whether n is a document holding nothing (a "---" with nothing after).
func emptyDocument(n *yaml.Node) bool {
	return len(n.Content) == 0 || len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode &&
		n.Content[0].Tag == "!!null" && n.Content[0].Value == ""
}

// countNodes counts the nodes under n, following aliases, and stops past limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 0
	var walk func(*yaml.Node, int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || count > limit || depth > 100 {
			count = limit + 1
			return
		}
		count++
		if n.Kind == yaml.AliasNode {
			walk(n.Alias, depth+1)
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
			if count > limit {
				return
			}
		}
	}
	walk(n, 0)
	return count
}
