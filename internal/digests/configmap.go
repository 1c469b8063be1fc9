package digests

import (
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
	"go.yaml.in/yaml/v3"
)

// ConfigMap renders the override ConfigMap for the ESS operator:
//
//	apiVersion: v1
//	kind: ConfigMap
//	metadata:
//	  name: NAME
//	  namespace: NAMESPACE
//	data:
//	  images_digests: |
//	    COMPONENT:
//	      CONTAINER:
//	        image_digest: sha256:...
//	        image_repository_path: ...
//	        image_repository_server: ...
//	        image_tag: ...
//
// data.images_digests holds the entries as Marshal writes them, without the top-level key.
// name must be a DNS-1123 subdomain and namespace a DNS-1123 label (ErrInvalidName). Every image
// must be valid and have a digest (an entry without one would be pulled by tag): otherwise one
// *ListError per problem, matching ErrNoDigest or ErrInvalidList, naming component.container.
func ConfigMap(name, namespace string, images []Image) ([]byte, error) {
	if err := checkObjectNames(name, namespace); err != nil {
		return nil, err
	}
	var errs []error
	for _, img := range images {
		if img.Digest == "" {
			errs = append(errs, &ListError{Key: img.Key(), Msg: "no " + keyDigest, Err: ErrNoDigest})
		}
	}
	comps, err := componentsNode(images)
	if err = errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	inner, err := encodeYAML(comps)
	if err != nil {
		return nil, err
	}
	return encodeYAML(mapping(
		"apiVersion", "v1",
		"kind", "ConfigMap",
		"metadata", mapping("name", name, "namespace", namespace),
		"data", mapping(topKey, string(inner)),
	))
}

// configMapFile is what errors from ParseConfigMap call their input.
const configMapFile = "ConfigMap"

// ParseConfigMap reads back a ConfigMap as ConfigMap writes it: apiVersion v1, kind ConfigMap,
// a valid metadata.name and metadata.namespace, and data.images_digests holding a component
// map (no top-level images_digests key) in which every entry is valid and has a digest.
// The images come sorted; their Line, like the lines in errors, counts in the ConfigMap when
// data.images_digests is a literal block (a column, in malformed YAML, counts in the block). Shape errors match ErrInvalidConfigMap, list errors
// ErrInvalidList or ErrNoDigest.
func ParseConfigMap(data []byte) ([]Image, error) {
	p := &parser{file: configMapFile}
	doc, extra, err := decode(data)
	switch {
	case errors.Is(err, yamlcheck.ErrAliases):
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfigMap, err)
	case err != nil:
		return nil, p.syntaxError(data, err)
	case extra != nil:
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalidConfigMap)
	case doc == nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode:
		return nil, fmt.Errorf("%w: not a mapping", ErrInvalidConfigMap)
	}
	root := doc.Content[0]
	field := func(path ...string) string {
		n := root
		for _, k := range path {
			if n = lookup(n, k); n == nil || n.Kind == yaml.AliasNode {
				return ""
			}
		}
		if n.Kind != yaml.ScalarNode {
			return ""
		}
		return n.Value
	}
	if v := field("apiVersion"); v != "v1" {
		return nil, fmt.Errorf("%w: apiVersion %q, want v1", ErrInvalidConfigMap, v)
	}
	if v := field("kind"); v != "ConfigMap" {
		return nil, fmt.Errorf("%w: kind %q, want ConfigMap", ErrInvalidConfigMap, v)
	}
	if err := checkObjectNames(field("metadata", "name"), field("metadata", "namespace")); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfigMap, err)
	}
	var list *yaml.Node
	if d := lookup(root, "data"); d != nil {
		list = lookup(d, topKey)
	}
	if list == nil || list.Kind != yaml.ScalarNode || isNull(list) {
		return nil, fmt.Errorf("%w: no data.%s string", ErrInvalidConfigMap, topKey)
	}
	offset := 0
	if list.Style&yaml.LiteralStyle != 0 {
		offset = list.Line // the block's text starts on the line after the '|'
	}
	images, err := parse(configMapFile, []byte(list.Value), offset, false)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, img := range images {
		if img.Digest == "" {
			errs = append(errs, &ListError{File: configMapFile, Line: img.Line, Key: img.Key(), Msg: "no " + keyDigest, Err: ErrNoDigest})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return images, nil
}
