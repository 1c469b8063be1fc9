package digests

import (
	"fmt"
	"regexp"
)

// Grammars, after the OCI distribution spec and github.com/distribution/reference.
var (
	digestRE = regexp.MustCompile(`^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	pathRE   = regexp.MustCompile(`^` + pathComponent + `(?:/` + pathComponent + `)*$`)
	serverRE = regexp.MustCompile(`^(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	// nameRE is what a component or container may be called: no '.', which separates them in
	// selection patterns.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

	dnsLabelRE     = regexp.MustCompile(`^` + dnsLabel + `$`)
	dnsSubdomainRE = regexp.MustCompile(`^` + dnsLabel + `(?:\.` + dnsLabel + `)*$`)
)

const (
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	dnsLabel        = `[a-z0-9](?:[-a-z0-9]*[a-z0-9])?`
	maxRepository   = 255 // distribution's limit on "server/path"
)

// The keys of an entry, which are also the names used in problems.
const (
	keyDigest = "image_digest"
	keyPath   = "image_repository_path"
	keyServer = "image_repository_server"
	keyTag    = "image_tag"
)

// problem is one rule an entry breaks; field is the key it concerns.
type problem struct {
	field, msg string
}

// checkImage lists the rules img breaks. Component and container names are checked where the
// entry is read (they locate the problem), the rest here.
func checkImage(img Image) []problem {
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, problem{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case img.Server == "":
		add(keyServer, "%s is missing or empty", keyServer)
	case !serverRE.MatchString(img.Server):
		add(keyServer, "%s %q is not a valid host[:port]", keyServer, img.Server)
	}
	switch {
	case img.Path == "":
		add(keyPath, "%s is missing or empty", keyPath)
	case !pathRE.MatchString(img.Path):
		add(keyPath, "%s %q is not a valid repository path", keyPath, img.Path)
	case len(img.Repository()) > maxRepository:
		add(keyPath, "repository %q is longer than %d characters", img.Repository(), maxRepository)
	}
	if img.Tag == "" && img.Digest == "" {
		add(keyTag, "neither %s nor %s is set", keyTag, keyDigest)
	}
	if img.Tag != "" && !tagRE.MatchString(img.Tag) {
		add(keyTag, "%s %q is not a valid tag", keyTag, img.Tag)
	}
	if img.Digest != "" && !digestRE.MatchString(img.Digest) {
		add(keyDigest, "%s %q is not a valid digest", keyDigest, img.Digest)
	}
	return ps
}

// checkName returns a problem text when s cannot name a component or container ("" when it can).
func checkName(what, s string) string {
	if nameRE.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("%s name %q is not valid (letters, digits, '_' and '-' only)", what, s)
}

// checkObjectNames checks a Kubernetes object name (a DNS-1123 subdomain) and namespace
// (a DNS-1123 label).
func checkObjectNames(name, namespace string) error {
	if len(name) > 253 || !dnsSubdomainRE.MatchString(name) {
		return fmt.Errorf("%w: name %q is not a DNS-1123 subdomain", ErrInvalidName, name)
	}
	if len(namespace) > 63 || !dnsLabelRE.MatchString(namespace) {
		return fmt.Errorf("%w: namespace %q is not a DNS-1123 label", ErrInvalidName, namespace)
	}
	return nil
}
