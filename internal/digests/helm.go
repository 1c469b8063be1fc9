package digests

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
	"go.yaml.in/yaml/v3"
)

// ErrInvalidHelmMap: a Helm map names an entry or a values path that cannot be used.
var ErrInvalidHelmMap = errors.New("invalid Helm map")

// HelmMap maps component.container keys (as in images_digests.yml) to the values path of an
// image in the matrix-stack Helm chart: the dot-separated path of the mapping that holds the
// image's registry, repository, tag and digest, for instance "synapse.image". An empty path
// means "not mapped".
type HelmMap map[string]string

// defaultHelmMap is the built-in map. The values paths are those of element-hq/ess-helm,
// charts/matrix-stack/values.yaml at commit 0009c18dca9b315830b68564be20f07a8cee9ba6 (generated
// from charts/matrix-stack/source/*.yaml.j2, where each image is `sub_schema_values.image(
// registry=..., repository=..., tag=...)` rendering {registry, repository, tag, digest,
// pullPolicy, pullSecrets}). There, matrixRTC.image is the lk-jwt-service authoriser and
// matrixRTC.sfu.image LiveKit; redis.image is the top-level Redis shared by Synapse workers and
// Hookshot (older charts had it at synapse.redis.image: override with --helm-map). The chart has
// no image for well-known delegation (HAProxy serves it).
var defaultHelmMap = HelmMap{
	// Entries of ESS's images_digests.yml with a counterpart in the chart.
	"synapse.synapse":         "synapse.image",
	"synapse.haproxy":         "haproxy.image",
	"synapse.redis":           "redis.image",
	"element_web.element_web": "elementWeb.image",
	"matrix_authentication_service.matrix_authentication_service": "matrixAuthenticationService.image",
	"element_call.jwt":      "matrixRTC.image",
	"element_call.sfu":      "matrixRTC.sfu.image",
	"hookshot.hookshot":     "hookshot.image",
	"postgresql.postgresql": "postgres.image",
	// Images of the chart that ESS's images_digests.yml has no entry for: the keys are ours, to
	// be used in a list made for the chart.
	"matrix_tools.matrix_tools":             "matrixTools.image",
	"element_admin.element_admin":           "elementAdmin.image",
	"matrix_authentication_service.syn2mas": "matrixAuthenticationService.syn2mas.image",
	"postgresql.postgres_exporter":          "postgres.postgresExporter.image",
	"synapse.redis_exporter":                "redis.redisExporter.image",
}

// DefaultHelmMap returns a copy of the built-in map from ESS's component.container keys to the
// matrix-stack chart's image values paths.
func DefaultHelmMap() HelmMap { return maps.Clone(defaultHelmMap) }

// Merge returns a copy of m with the entries of o added or replacing m's; an entry of o with an
// empty path removes the key. Neither map is modified.
func (m HelmMap) Merge(o HelmMap) HelmMap {
	out := maps.Clone(m)
	if out == nil {
		out = HelmMap{}
	}
	for k, v := range o {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// ParseHelmMap reads a Helm map file: one YAML mapping of "component.container" to a values path
// ("synapse.image"), each a plain string; a null or empty path unmaps the key (see Merge). An
// empty file is an empty map. name is what errors call the file. Every problem is reported,
// each naming file:line, all matching ErrInvalidHelmMap.
func ParseHelmMap(name string, data []byte) (HelmMap, error) {
	var doc yaml.Node
	if err := yamlcheck.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrInvalidHelmMap, err)
	}
	m := HelmMap{}
	if len(doc.Content) == 0 {
		return m, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: %w: want a mapping of component.container: values.path", name, root.Line, ErrInvalidHelmMap)
	}
	var errs []error
	bad := func(n *yaml.Node, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %w: %s", name, n.Line, ErrInvalidHelmMap, fmt.Sprintf(format, a...)))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			bad(k, "a key must be a component.container string")
			continue
		}
		if _, dup := m[k.Value]; dup {
			bad(k, "%s: duplicate key", k.Value)
			continue
		}
		var path string
		switch {
		case isNull(v):
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
			path = v.Value
		default:
			bad(v, "%s: the values path must be a string", k.Value)
			continue
		}
		if err := checkHelmEntry(k.Value, path); err != nil {
			bad(k, "%v", err)
			continue
		}
		m[k.Value] = path
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// imageFields are the keys of an image in the chart; a values path cannot go through them.
var imageFields = []string{"registry", "repository", "tag", "digest", "pullPolicy", "pullSecrets"}

// checkHelmEntry checks a key ("component.container") and a path ("" or dot-separated names
// of letters, digits, '_' and '-', none of them an image field).
func checkHelmEntry(key, path string) error {
	comp, cont, ok := strings.Cut(key, ".")
	if !ok || checkName("component", comp) != "" || checkName("container", cont) != "" {
		return fmt.Errorf("key %q is not component.container", key)
	}
	if path == "" {
		return nil
	}
	for _, seg := range strings.Split(path, ".") {
		if !nameRE.MatchString(seg) {
			return fmt.Errorf("%s: values path %q is not dot-separated names (letters, digits, '_' and '-')", key, path)
		}
		if slices.Contains(imageFields, seg) {
			return fmt.Errorf("%s: values path %q goes through the image field %q: name the image mapping itself (e.g. synapse.image)", key, path, seg)
		}
	}
	return nil
}

// helmNode is one mapping of the values tree: an image (with the key that put it there) and
// the mappings nested under it.
type helmNode struct {
	image    *Image
	children map[string]*helmNode
}

// HelmValues renders a values file for the matrix-stack chart that points every image of
// images that m maps at the server and path the image gives, with its tag (left out when empty)
// and its digest, which the chart then pulls by:
//
//	# comment
//	synapse:
//	  image:
//	    registry: SERVER
//	    repository: PATH
//	    tag: TAG
//	    digest: sha256:...
//
// Mappings are nested as the paths say, keys in sorted order at every level, the image fields
// first in the order above: the same input gives the same bytes. Tags are written as strings.
//
// unmapped lists, sorted, the keys of images m has no path for: not an error. Every image must
// be valid and have a digest (one *ListError per problem, matching ErrNoDigest or
// ErrInvalidList); m must be valid as ParseHelmMap defines it (ErrInvalidHelmMap). Two images
// mapped to one path must be the same image (server, path, tag and digest), else
// ErrInvalidHelmMap.
func HelmValues(images []Image, m HelmMap) (values []byte, unmapped []string, err error) {
	var errs []error
	for _, k := range sortedKeys(m) {
		if err := checkHelmEntry(k, m[k]); err != nil {
			errs = append(errs, fmt.Errorf("%w: %v", ErrInvalidHelmMap, err))
		}
	}
	sorted := slices.Clone(images)
	sortImages(sorted)
	root := &helmNode{}
	owner := map[*helmNode]string{} // the key that put an image at a node, for errors
	for _, img := range sorted {
		if img.Digest == "" {
			errs = append(errs, &ListError{Key: img.Key(), Msg: "no " + keyDigest, Err: ErrNoDigest})
		}
		for _, p := range checkImage(img) {
			errs = append(errs, &ListError{Key: img.Key(), Msg: p.msg, Err: ErrInvalidList})
		}
		path := m[img.Key()]
		if path == "" {
			unmapped = append(unmapped, img.Key())
			continue
		}
		n := root
		for _, seg := range strings.Split(path, ".") {
			if n.children == nil {
				n.children = map[string]*helmNode{}
			}
			if n.children[seg] == nil {
				n.children[seg] = &helmNode{}
			}
			n = n.children[seg]
		}
		if n.image != nil && !n.image.SameSource(img) {
			errs = append(errs, fmt.Errorf("%w: %s and %s both map to %s with different images", ErrInvalidHelmMap, owner[n], img.Key(), path))
			continue
		}
		if n.image == nil {
			n.image, owner[n] = &img, img.Key()
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.node()},
		HeadComment: "Helm values for the matrix-stack chart (element-hq/ess-helm): its images from the local registry,\n" +
			"pulled by digest. Written by unbundle push --helm-values; give it to helm with -f."}
	values, err = encodeYAML(doc)
	return values, unmapped, err
}

// node renders n as a YAML mapping: the image fields, then the children in sorted order.
func (n *helmNode) node() *yaml.Node {
	m := mapping()
	if im := n.image; im != nil {
		m.Content = append(m.Content, str("registry"), str(im.Server), str("repository"), str(im.Path))
		if im.Tag != "" {
			m.Content = append(m.Content, str("tag"), str(im.Tag))
		}
		m.Content = append(m.Content, str("digest"), str(im.Digest))
	}
	for _, k := range sortedKeys(n.children) {
		m.Content = append(m.Content, str(k), n.children[k].node())
	}
	return m
}
