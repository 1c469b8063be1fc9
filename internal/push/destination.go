package push

import (
	"fmt"
	"path"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Destination maps source images to the local registry: HOST[:PORT][/PREFIX] from --registry,
// then --path-prefix, then the source path. docker.io/library/haproxy with --registry
// reg.local:5000/ess lands on reg.local:5000/ess/library/haproxy.
type Destination struct {
	Host   string // host[:port]
	Prefix string // path prefix, without leading or trailing slashes; may be empty
}

// ParseDestination reads a registry HOST[:PORT][/PREFIX] (unbundle's --registry) and a path
// prefix (--path-prefix). A registry that is not HOST[:PORT][/PREFIX] wraps ErrRegistry.
func ParseDestination(registry, pathPrefix string) (Destination, error) {
	host, prefix, _ := strings.Cut(strings.TrimSuffix(registry, "/"), "/")
	if host == "" || strings.Contains(registry, "://") || strings.ContainsAny(host, " @") {
		return Destination{}, fmt.Errorf("%q: %w", registry, ErrRegistry)
	}
	p := strings.Trim(path.Join(prefix, pathPrefix), "/")
	if p == "." {
		p = ""
	}
	if p != strings.ToLower(p) || strings.Contains(p, "..") || strings.Contains(p, "//") {
		return Destination{}, fmt.Errorf("path prefix %q: repository paths are lowercase, without '..'", p)
	}
	return Destination{Host: host, Prefix: p}, nil
}

// Repo is the destination repository path (without the host) of a source image.
func (d Destination) Repo(im archive.Image) string { return graph.Repo(d.Prefix, im.Path) }

// target is one repository:tag to push, and the images (containers) that map to it.
type target struct {
	repo, tag string
	digest    string
	images    []*graph.Image
	pushed    bool // by the preflight
}

// root is the image's graph (nil until the graph is loaded).
func (t *target) root() *manifest.Node { return t.images[0].Root }

// refs are the image's referrers (nil until the graph is loaded).
func (t *target) refs() []graph.Referrer { return t.images[0].Referrers }

func (t *target) String() string {
	ref := t.repo + ":" + t.tag
	if t.tag == "" {
		ref = t.repo + "@" + t.digest
	}
	keys := make([]string, len(t.images))
	for i, im := range t.images {
		keys[i] = im.Key()
	}
	return fmt.Sprintf("%s (%s)", strings.Join(keys, ", "), ref)
}

// targets groups the bundle's images by destination repository and tag, and refuses two
// sources that would land on the same repository:tag with different digests.
func targets(d Destination, images []*graph.Image) ([]*target, error) {
	byRef := map[string]*target{}
	var out []*target
	var clashes []string
	for _, im := range images {
		repo := im.Repo(d.Prefix)
		key := repo + ":" + im.Tag
		if im.Tag == "" {
			key = repo + "@" + im.Digest
		}
		t, ok := byRef[key]
		switch {
		case !ok:
			t = &target{repo: repo, tag: im.Tag, digest: im.Digest}
			byRef[key] = t
			out = append(out, t)
		case t.digest != im.Digest:
			clashes = append(clashes, fmt.Sprintf("%s: %s (%s, %s) and %s (%s, %s)", key,
				t.images[0].Key(), t.images[0].Ref(), t.digest, im.Key(), im.Ref(), im.Digest))
			continue
		}
		t.images = append(t.images, im)
	}
	if len(clashes) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrClash, strings.Join(clashes, "\n  "))
	}
	return out, nil
}
