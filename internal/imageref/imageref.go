package imageref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Docker Hub's names: the one the bundle records, and the legacy one Docker reads as it.
const (
	DockerHub       = "docker.io"
	legacyDockerHub = "index.docker.io"
	officialPrefix  = "library/"
)

// ErrInvalid is wrapped when a reference cannot be read.
var ErrInvalid = errors.New("not a valid image reference")

// Normalize returns server and path as Docker reads them: no server, or index.docker.io, is
// docker.io (any case), and a docker.io path of one element is an official image under
// library/. Other servers and paths are returned unchanged: a registry other than Docker Hub
// has no implicit namespace.
func Normalize(server, path string) (string, string) {
	if server == "" || strings.EqualFold(server, DockerHub) || strings.EqualFold(server, legacyDockerHub) {
		server = DockerHub
		if path != "" && !strings.Contains(path, "/") {
			path = officialPrefix + path
		}
	}
	return server, path
}

// Ref is an image reference split in its parts, normalized.
type Ref struct {
	Server string // host[:port]
	Path   string // the repository path, without the host
	Tag    string // "" when only a digest was given
	Digest string // "" when not given
}

// Repository is "server/path".
func (r Ref) Repository() string { return r.Server + "/" + r.Path }

// String is "server/path:tag", "server/path@digest" or "server/path:tag@digest".
func (r Ref) String() string {
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Parse reads a reference as `docker pull` does: `postgres`, `postgres:17-alpine`,
// `docker.io/postgres`, `ghcr.io/element-hq/synapse:v1.159.0`, `HOST:PORT/PATH@sha256:...`.
// Without a tag or digest the tag is latest, as Docker takes it.
func Parse(s string) (Ref, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(s))
	if err != nil {
		return Ref{}, fmt.Errorf("%q: %w: %v", s, ErrInvalid, err)
	}
	named = reference.TagNameOnly(named)
	r := Ref{Server: reference.Domain(named), Path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	r.Server, r.Path = Normalize(r.Server, r.Path)
	return r, nil
}

// ParseRegistry reads a registry's name, host[:port], normalized (index.docker.io is
// docker.io). A name is a registry's as Docker tells them from a path's first element: it has
// a '.' or a ':PORT', or is localhost. A scheme, a path or anything else is refused.
func ParseRegistry(s string) (string, error) {
	bad := fmt.Errorf("%q: %w: want a registry HOST[:PORT] (a name with a '.' or a ':PORT', or localhost), without a scheme or path", s, ErrInvalid)
	if s == "" || strings.Contains(s, "://") || strings.ContainsAny(s, "/@ ") {
		return "", bad
	}
	named, err := reference.ParseNormalizedNamed(s + "/x")
	if err != nil {
		return "", bad
	}
	server, _ := Normalize(reference.Domain(named), "")
	if server == DockerHub && !strings.EqualFold(s, DockerHub) && !strings.EqualFold(s, legacyDockerHub) {
		return "", bad // a first path element of Docker Hub, not a registry
	}
	return server, nil
}
