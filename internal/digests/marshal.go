package digests

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Marshal writes images as an images_digests.yml: components under the top-level
// images_digests key, components and containers in sorted order, and in each entry
// image_digest, image_repository_path, image_repository_server, image_tag (the digest or the tag
// left out when empty). Values are strings, quoted where YAML would read them as anything else
// (the tag 1.10 is written "1.10").
//
// images need not be sorted, but must be valid as Parse defines it and name each
// component.container once; otherwise the error joins one *ListError (ErrInvalidList, no file)
// per problem. So Parse(Marshal(images)) gives back images, sorted, with Line set.
func Marshal(images []Image) ([]byte, error) {
	comps, err := componentsNode(images)
	if err != nil {
		return nil, err
	}
	return encodeYAML(mapping(topKey, comps))
}

// componentsNode checks images and builds the component -> container -> fields mapping.
func componentsNode(images []Image) (*yaml.Node, error) {
	if len(images) == 0 {
		return nil, &ListError{Msg: "the list has no images", Err: ErrEmptyList}
	}
	sorted := slices.Clone(images)
	sortImages(sorted)
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &ListError{Key: key, Msg: msg, Err: ErrInvalidList}) }
	root := mapping()
	var comp *yaml.Node
	for i, img := range sorted {
		if msg := checkName("component", img.Component); msg != "" {
			bad(img.Key(), msg)
		}
		if msg := checkName("container", img.Container); msg != "" {
			bad(img.Key(), msg)
		}
		for _, p := range checkImage(img) {
			bad(img.Key(), p.msg)
		}
		if i > 0 && sorted[i-1].Key() == img.Key() {
			bad(img.Key(), "duplicate entry")
			continue
		}
		if i == 0 || sorted[i-1].Component != img.Component {
			comp = mapping()
			root.Content = append(root.Content, str(img.Component), comp)
		}
		entry := mapping()
		for _, f := range [...]struct{ key, value string }{
			{keyDigest, img.Digest}, {keyPath, img.Path}, {keyServer, img.Server}, {keyTag, img.Tag},
		} {
			if f.value != "" {
				entry.Content = append(entry.Content, str(f.key), str(f.value))
			}
		}
		comp.Content = append(comp.Content, str(img.Container), entry)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return root, nil
}

// mapping builds a YAML mapping from key, value pairs; a value is a string or a *yaml.Node.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := kv[i+1].(*yaml.Node)
		if !ok {
			v = str(kv[i+1].(string))
		}
		m.Content = append(m.Content, str(kv[i].(string)), v)
	}
	return m
}

// str is a string scalar: written plain when YAML reads it back as that string, quoted otherwise,
// as a literal block when it holds a newline.
func str(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	return n
}

// encodeYAML writes one document, indented by two spaces.
func encodeYAML(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return b.Bytes(), nil
}
