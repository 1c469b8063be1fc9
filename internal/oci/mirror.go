package oci

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// Mirror is where the images of one registry are pulled from instead: a pull-through cache
// (Harbor's proxy projects, Artifactory's and Nexus's remote repositories), the way
// registries.conf mirrors work. Registry/PATH is pulled as Location/Prefix/PATH, with
// Location's own credentials (Docker config, credential helpers); everything else, the
// references recorded and named in messages included, keeps Registry/PATH.
type Mirror struct {
	Registry string // the registry mirrored, as references name it: docker.io, ghcr.io
	Location string // the mirror's HOST[:PORT]
	Prefix   string // the path under Location that stands for Registry's root; may be empty
}

// String is LOCATION[/PREFIX].
func (m Mirror) String() string {
	if m.Prefix == "" {
		return m.Location
	}
	return m.Location + "/" + m.Prefix
}

var prefixRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// MirrorError is a mirror that cannot be used: as it was given ("" for a conflict between
// two), and what is wrong with it. It matches ErrOption.
type MirrorError struct {
	Mirror  string
	Problem string
}

func (e *MirrorError) Error() string {
	if e.Mirror == "" {
		return "mirrors: " + e.Problem
	}
	return fmt.Sprintf("mirror %q: %s", e.Mirror, e.Problem)
}

// Is matches ErrOption.
func (e *MirrorError) Is(target error) bool { return target == ErrOption }

// ParseMirror reads REGISTRY=LOCATION[/PREFIX] (bundle create --mirror):
// docker.io=harbor.corp/dockerhub-proxy. What it refuses is a *MirrorError.
func ParseMirror(s string) (Mirror, error) {
	bad := func(format string, a ...any) (Mirror, error) {
		return Mirror{}, &MirrorError{Mirror: s, Problem: fmt.Sprintf(format, a...)}
	}
	reg, loc, ok := strings.Cut(s, "=")
	if !ok {
		return bad("want REGISTRY=LOCATION[/PREFIX], e.g. docker.io=harbor.example.com/dockerhub-proxy")
	}
	var m Mirror
	var err error
	if m.Registry, err = imageref.ParseRegistry(reg); err != nil {
		return bad("the registry mirrored: %v", err)
	}
	host, prefix, _ := strings.Cut(strings.TrimSuffix(loc, "/"), "/")
	if m.Location, err = imageref.ParseRegistry(host); err != nil {
		return bad("the mirror's location: %v", err)
	}
	if prefix != "" && !prefixRE.MatchString(prefix) {
		return bad("prefix %q is not a repository path (lowercase, no '..')", prefix)
	}
	m.Prefix = prefix
	return m, nil
}

// WithMirror pulls m.Registry's images from m.Location/m.Prefix (repeatable, one mirror per
// registry). Default: none; every registry is reached directly.
func WithMirror(m Mirror) Option {
	return func(o *options) error {
		if m.Registry == "" || m.Location == "" {
			return fmt.Errorf("%w: a mirror needs a registry and a location", ErrOption)
		}
		if o.mirrors == nil {
			o.mirrors = map[string]Mirror{}
		}
		if prev, ok := o.mirrors[m.Registry]; ok && prev != m {
			return &MirrorError{Problem: fmt.Sprintf("two mirrors for %s: %s and %s", m.Registry, prev, m)}
		}
		o.mirrors[m.Registry] = m
		return nil
	}
}

// MirrorOf returns the mirror that host's images are pulled from, if any.
func (c *Client) MirrorOf(host string) (Mirror, bool) {
	h, _ := imageref.Normalize(host, "")
	m, ok := c.o.mirrors[h]
	return m, ok
}

// via rewrites a reference or repository, "host/path...", to where it is pulled from: its
// mirror's, or itself.
func (c *Client) via(s string) (string, *Mirror) {
	host, rest, ok := strings.Cut(s, "/")
	if !ok || len(c.o.mirrors) == 0 {
		return s, nil
	}
	m, ok := c.MirrorOf(host)
	if !ok {
		return s, nil
	}
	if m.Prefix != "" {
		rest = m.Prefix + "/" + rest
	}
	return m.Location + "/" + rest, &m
}

// through says, after an error about something pulled through a mirror, which mirror it was.
func through(m *Mirror, err error) error {
	if m == nil || err == nil {
		return err
	}
	return fmt.Errorf("%w (pulled through mirror %s)", err, m)
}
