package chart

import (
	"fmt"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
	"go.yaml.in/yaml/v3"
)

// ValuesFile is a values file as given: its name (for errors) and its content.
type ValuesFile struct {
	Name string
	Data []byte
}

// value is one node of a values tree: a mapping (keys, kids) or a leaf (a scalar or a
// sequence), remembering the file and line that set it.
type value struct {
	file string
	line int
	leaf *yaml.Node // nil for a mapping
	keys []string   // mapping: in order of first appearance
	kids map[string]*value
}

// parseValues reads a values file: a YAML mapping, or an empty document.
func parseValues(f ValuesFile) (*value, error) {
	var doc yaml.Node
	if err := yamlcheck.Unmarshal(f.Data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.Name, ErrInvalidValues, err)
	}
	root := &value{file: f.Name, line: 1, kids: map[string]*value{}}
	if len(doc.Content) == 0 {
		return root, nil
	}
	n := deref(doc.Content[0])
	if n.Kind != yaml.MappingNode && !isNull(n) {
		return nil, fmt.Errorf("%s:%d: %w: the top level must be a mapping of keys to values", f.Name, n.Line, ErrInvalidValues)
	}
	return fromNode(f.Name, n, "")
}

// fromNode converts a YAML node; path (dot-separated) is for errors.
func fromNode(file string, n *yaml.Node, path string) (*value, error) {
	n = deref(n)
	v := &value{file: file, line: n.Line}
	if n.Kind != yaml.MappingNode {
		v.leaf = n
		return v, nil
	}
	v.kids = map[string]*value{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: %w: %s: a key must be a scalar", file, k.Line, ErrInvalidValues, orTop(path))
		}
		if k.Value == "<<" {
			return nil, fmt.Errorf("%s:%d: %w: %s: YAML merge keys (<<) are not supported", file, k.Line, ErrInvalidValues, orTop(path))
		}
		kid, err := fromNode(file, n.Content[i+1], join(path, k.Value))
		if err != nil {
			return nil, err
		}
		if _, dup := v.kids[k.Value]; !dup {
			v.keys = append(v.keys, k.Value)
		}
		v.kids[k.Value] = kid
	}
	return v, nil
}

// merge applies over on top of v as Helm applies -f files to a chart's values: mappings merge
// key by key, anything else replaces, and null deletes the key.
func (v *value) merge(over *value) {
	for _, k := range over.keys {
		o := over.kids[k]
		cur, ok := v.kids[k]
		switch {
		case o.isNull():
			if ok {
				delete(v.kids, k)
				v.keys = remove(v.keys, k)
			}
		case ok && cur.kids != nil && o.kids != nil:
			cur.merge(o)
		default:
			if !ok {
				v.keys = append(v.keys, k)
			}
			v.kids[k] = o
		}
	}
}

func (v *value) isNull() bool { return v.kids == nil && isNull(v.leaf) }

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
