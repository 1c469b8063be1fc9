package digests

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/yamlcheck"

	"go.yaml.in/yaml/v3"
)

// topKey is the key an images_digests.yml as shipped puts its components under.
const topKey = "images_digests"

// ParseFile reads and parses the images_digests.yml at path; errors name the path as given.
func ParseFile(path string) (*List, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses an images_digests.yml; name is what errors call the file.
//
// Both shapes are accepted: components under a top-level images_digests key (as the ESS
// Installer ships it), or at the top level (as in the ConfigMap). Every scalar is kept as
// written: an unquoted 1.10 is the tag "1.10"; a null value counts as absent.
//
// Each entry must have image_repository_server (host[:port]), image_repository_path
// (a repository path, no host), and image_tag or image_digest (or both), each well-formed; no
// other key. Names are read as Docker reads them (imageref.Normalize): server docker.io or
// index.docker.io with path postgres is docker.io, library/postgres. Component and container names are letters, digits, '_' and '-'.
//
// Every problem found is reported, each as a *ListError naming file:line and component.container,
// joined with errors.Join. All errors match ErrInvalidList; malformed YAML also matches ErrSyntax
// (and gives line:column), a list without images ErrEmptyList.
func Parse(name string, data []byte) (*List, error) {
	images, err := parse(name, data, 0, true)
	if err != nil {
		return nil, err
	}
	return &List{File: name, Images: images}, nil
}

// parse reads a component map into sorted images. lineOffset is added to every line (the list
// is embedded in a larger file); wrapped says whether a top-level images_digests key is allowed.
func parse(file string, data []byte, lineOffset int, wrapped bool) ([]Image, error) {
	p := &parser{file: file, offset: lineOffset}
	doc, extra, err := decode(data)
	if errors.Is(err, yamlcheck.ErrAliases) {
		return nil, &ListError{File: file, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidList, err)}
	}
	if err != nil {
		return nil, p.syntaxError(data, err)
	}
	if extra != nil {
		p.add(extra, "", "more than one YAML document")
		return nil, p.result(nil)
	}
	var components *yaml.Node
	if doc != nil && len(doc.Content) > 0 {
		components = doc.Content[0]
	}
	if components != nil && components.Kind == yaml.MappingNode {
		if i := keyIndex(components, topKey); i >= 0 {
			if !wrapped {
				p.add(components.Content[i], "", "top-level key "+topKey+" where components belong")
				return nil, p.result(nil)
			}
			for j := 0; j < len(components.Content); j += 2 {
				if j != i {
					k := components.Content[j]
					p.add(k, "", fmt.Sprintf("top-level key %q beside %s", k.Value, topKey))
				}
			}
			components = components.Content[i+1]
		}
	}
	if components == nil || isNull(components) {
		return nil, p.result(nil)
	}
	if components.Kind != yaml.MappingNode {
		p.add(components, "", "want a mapping of components, got "+describe(components))
		return nil, p.result(nil)
	}
	var images []Image
	p.each(components, "component", "", func(comp string, _, v *yaml.Node) {
		if v.Kind != yaml.MappingNode {
			p.add(v, comp, "component is not a mapping of containers, got "+describe(v))
			return
		}
		if len(v.Content) == 0 {
			p.add(v, comp, "component has no containers")
		}
		p.each(v, "container", comp, func(cont string, k, v *yaml.Node) {
			if img, ok := p.entry(comp, cont, k, v); ok {
				images = append(images, img)
			}
		})
	})
	sortImages(images)
	return images, p.result(images)
}

// parser collects the problems of one list.
type parser struct {
	file   string
	offset int
	errs   []error // each a *ListError
}

func (p *parser) add(n *yaml.Node, key, msg string) {
	p.errs = append(p.errs, &ListError{File: p.file, Line: n.Line + p.offset, Key: key, Msg: msg, Err: ErrInvalidList})
}

// result is the error for the problems found, in line order, or ErrEmptyList when there are
// none and no images.
func (p *parser) result(images []Image) error {
	if len(p.errs) == 0 && len(images) == 0 {
		return &ListError{File: p.file, Msg: "the list has no images", Err: ErrEmptyList}
	}
	slices.SortStableFunc(p.errs, func(a, b error) int {
		return cmp.Compare(a.(*ListError).Line, b.(*ListError).Line)
	})
	return errors.Join(p.errs...)
}

// each calls fn for every key of mapping m whose name is valid and not a duplicate.
// what ("component" or "container") names the keys in problems; parent ("" or the component) is
// the Key of problems with a key's name.
func (p *parser) each(m *yaml.Node, what, parent string, fn func(name string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, parent, fmt.Sprintf("%s key is not a string, got %s", what, describe(k)))
			continue
		}
		name := k.Value
		if msg := checkName(what, name); msg != "" {
			p.add(k, parent, msg)
			continue
		}
		if line, dup := seen[name]; dup {
			key := name
			if parent != "" {
				key = parent + "." + name
			}
			p.add(k, key, fmt.Sprintf("duplicate %s (first at line %d)", what, line))
			continue
		}
		seen[name] = k.Line + p.offset
		fn(name, k, v)
	}
}

// entry reads one container's mapping; ok is false when it has a problem.
func (p *parser) entry(comp, cont string, k, v *yaml.Node) (Image, bool) {
	key := comp + "." + cont
	img := Image{Entry: imageref.Entry{Component: comp, Container: cont}, Line: k.Line + p.offset}
	if v.Kind != yaml.MappingNode {
		p.add(v, key, "container is not a mapping, got "+describe(v))
		return img, false
	}
	before := len(p.errs)
	fields := map[string]*yaml.Node{} // the value of each key seen
	bad := map[string]bool{}          // keys already reported
	for i := 0; i < len(v.Content); i += 2 {
		fk, fv := v.Content[i], v.Content[i+1]
		var dst *string
		switch fk.Value {
		case keyDigest:
			dst = &img.Digest
		case keyPath:
			dst = &img.Path
		case keyServer:
			dst = &img.Server
		case keyTag:
			dst = &img.Tag
		}
		switch {
		case fk.Kind != yaml.ScalarNode:
			p.add(fk, key, "key is not a string, got "+describe(fk))
		case dst == nil:
			p.add(fk, key, fmt.Sprintf("unknown key %q", fk.Value))
		case fields[fk.Value] != nil:
			p.add(fk, key, fmt.Sprintf("duplicate key %q (first at line %d)", fk.Value, fields[fk.Value].Line+p.offset))
		case fv.Kind != yaml.ScalarNode:
			fields[fk.Value], bad[fk.Value] = fv, true
			p.add(fv, key, fmt.Sprintf("%s is not a string, got %s", fk.Value, describe(fv)))
		default:
			fields[fk.Value] = fv
			if !isNull(fv) {
				*dst = fv.Value
			}
		}
	}
	if img.Server != "" { // as Docker names it: docker.io/postgres is docker.io/library/postgres
		img.Server, img.Path = imageref.Normalize(img.Server, img.Path)
	}
	for _, pr := range checkImage(img) {
		if bad[pr.field] {
			continue
		}
		at := k
		if n := fields[pr.field]; n != nil {
			at = n
		}
		p.add(at, key, pr.msg)
	}
	return img, len(p.errs) == before
}

// decode reads the one YAML document in data: doc is nil for an empty stream, extra is the start
// of a second document when there is one. err is a yaml.v3 syntax error, or wraps
// yamlcheck.ErrAliases for a document whose aliases reach too far.
func decode(data []byte) (doc, extra *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var d, e yaml.Node
	if err := yamlcheck.Decode(dec, &d); err != nil {
		if err == io.EOF {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	switch err := dec.Decode(&e); {
	case err == io.EOF:
		return &d, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return &d, &e, nil
}

var yamlPrefix = regexp.MustCompile(`^yaml: (?:line \d+: )?`)

// syntaxError locates a yaml.v3 syntax error. yaml.v3 gives no column, and its line is at
// times that of the enclosing block rather than the fault, so the position is found anew: the
// last byte of the shortest prefix of data that fails with the same message, which is where the
// parser gave up. The search cuts between lines first, then within the line (binary searches,
// O(log n) parses).
func (p *parser) syntaxError(data []byte, err error) error {
	msg := yamlPrefix.ReplaceAllString(err.Error(), "")
	fails := func(n int) bool {
		_, _, e := decode(data[:n])
		return e != nil && yamlPrefix.ReplaceAllString(e.Error(), "") == msg
	}
	var ends []int // the length of each line-ending prefix
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	le := &ListError{File: p.file, Msg: msg, Err: ErrSyntax}
	line := sort.Search(len(ends), func(i int) bool { return fails(ends[i]) })
	if line < len(ends) {
		start := 0
		if line > 0 {
			start = ends[line-1]
		}
		last := start + sort.Search(ends[line]-start, func(i int) bool { return fails(start + i + 1) })
		le.Line = line + 1 + p.offset
		le.Column = utf8.RuneCount(data[start:last]) + 1
	}
	return le
}

// keyIndex returns the index in m.Content of the first key named key, or -1.
func keyIndex(m *yaml.Node, key string) int {
	if m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if i := keyIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names a node's kind for problems: "a mapping", "a list", "null" ...
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias (*" + n.Value + ")"
	}
	return "an unexpected node"
}

func sortImages(images []Image) {
	slices.SortFunc(images, func(a, b Image) int {
		return cmp.Or(cmp.Compare(a.Component, b.Component), cmp.Compare(a.Container, b.Container))
	})
}
