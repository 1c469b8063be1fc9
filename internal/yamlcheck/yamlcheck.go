// Package yamlcheck bounds what YAML aliases make of a document, before anything decodes or
// walks it: a few bytes of nested anchors and aliases ("billion laughs": a 393-byte values.yaml
// with aliases 8 deep ran bundle create --chart --dry-run past 90 s and gigabytes) expand to
// more nodes than memory holds. Every YAML this tool reads from a user or a chart (image
// lists, ConfigMaps, Helm maps, chart values, Chart.yaml, rendered manifests) goes through
// Check, Unmarshal or Decode. It imports only go.yaml.in/yaml/v3.
package yamlcheck

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MaxAliasNodes is how many nodes a document may reach through its aliases, counting every
// node under an alias's anchor each time an alias names it, aliases within aliases expanded.
// Anchors that a values file reuses a few times (a resources block, a set of labels) reach a
// few hundred.
const MaxAliasNodes = 10000

// ErrAliases is wrapped when a document's aliases reach more than MaxAliasNodes nodes, or an
// alias is inside the node it names (which no decoder can expand).
var ErrAliases = errors.New("YAML aliases expand too far")

// Check returns an error wrapping ErrAliases when the nodes reached through the aliases of n
// pass MaxAliasNodes. It takes time linear in the nodes of n as parsed (each is sized once),
// whatever they would expand to.
func Check(n *yaml.Node) error {
	c := &counter{sizes: map[*yaml.Node]int64{}, open: map[*yaml.Node]bool{}}
	expanded, err := c.size(n)
	if err != nil {
		return err
	}
	if reached := expanded - plain(n); reached > MaxAliasNodes {
		return fmt.Errorf("%w: its aliases reach more than %d nodes (an alias bomb?): refused", ErrAliases, MaxAliasNodes)
	}
	return nil
}

// plain counts the nodes of n as parsed, an alias as one.
func plain(n *yaml.Node) int64 {
	if n == nil {
		return 0
	}
	s := int64(1)
	for _, k := range n.Content {
		s += plain(k)
	}
	return s
}

// limit caps the sizes counted, so that no sum overflows: anything past it is refused anyway.
const limit = 1 << 40

type counter struct {
	sizes map[*yaml.Node]int64 // a node's size with its aliases expanded
	open  map[*yaml.Node]bool  // being sized: an alias to one of these is a cycle
}

func (c *counter) size(n *yaml.Node) (int64, error) {
	if n == nil {
		return 0, nil
	}
	if s, ok := c.sizes[n]; ok {
		return s, nil
	}
	if c.open[n] {
		return 0, fmt.Errorf("%w: line %d: an alias inside the anchor it names", ErrAliases, n.Line)
	}
	c.open[n] = true
	defer delete(c.open, n)
	s := int64(1)
	if n.Kind == yaml.AliasNode {
		t, err := c.size(n.Alias)
		if err != nil {
			return 0, err
		}
		s = t
	}
	for _, k := range n.Content {
		ks, err := c.size(k)
		if err != nil {
			return 0, err
		}
		s = min(s+ks, limit)
	}
	c.sizes[n] = s
	return s, nil
}

// Unmarshal decodes the first document of data into v, as yaml.Unmarshal does, once Check
// has passed it.
func Unmarshal(data []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	return decodeNode(&doc, v)
}

// Decode reads the next document of dec into v, as dec.Decode does (io.EOF at the end), once
// Check has passed it.
func Decode(dec *yaml.Decoder, v any) error {
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	return decodeNode(&doc, v)
}

func decodeNode(doc *yaml.Node, v any) error {
	if err := Check(doc); err != nil {
		return err
	}
	if n, ok := v.(*yaml.Node); ok {
		*n = *doc
		return nil
	}
	if len(doc.Content) == 0 { // an empty document leaves v as it is, as yaml.Unmarshal does
		return nil
	}
	return doc.Decode(v)
}
