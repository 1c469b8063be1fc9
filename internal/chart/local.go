package chart

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LocalValues renders the values file that points image blocks at the local registry, by
// digest: for each block, at its path, registry, repository, tag (when it has one: the chart
// keeps it as the version label), digest, and pullSecrets [{name: S}, ...] when pullSecrets
// are given. Given last to helm (-f), it overrides where every block's image comes from and
// nothing else. Mappings are nested as the paths say, keys sorted at every level, the image
// fields first in the order above: the same input gives the same bytes. Every block must have
// a registry, a repository and a digest.
func LocalValues(blocks []Block, pullSecrets []string) ([]byte, error) {
	root := &tree{}
	for _, b := range blocks {
		if b.Registry == "" || b.Repository == "" || !digestRE.MatchString(b.Digest) {
			return nil, fmt.Errorf("%w: %s: registry, repository and a sha256 digest are required (got %q, %q, %q)",
				ErrInvalidValues, b.Path, b.Registry, b.Repository, b.Digest)
		}
		n := root
		for _, seg := range strings.Split(b.Path, ".") {
			if n.kids == nil {
				n.kids = map[string]*tree{}
			}
			if n.kids[seg] == nil {
				n.kids[seg] = &tree{}
			}
			n = n.kids[seg]
		}
		if n.block != nil {
			return nil, fmt.Errorf("%w: %s: two blocks at one path", ErrInvalidValues, b.Path)
		}
		n.block = &b
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.node(pullSecrets)},
		HeadComment: "Helm values that pull every image of the chart from the local registry, by digest.\n" +
			"Written by unbundle push --helm-values; give it to helm last: helm install ... -f YOUR-VALUES -f THIS-FILE"}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tree is the nesting of the values file: a block at a node, and the mappings under it.
type tree struct {
	block *Block
	kids  map[string]*tree
}

func (t *tree) node(pullSecrets []string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
	if b := t.block; b != nil {
		add("registry", str(b.Registry))
		add("repository", str(b.Repository))
		if b.Tag != "" {
			add("tag", str(b.Tag))
		}
		add("digest", str(b.Digest))
		if len(pullSecrets) > 0 {
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, s := range pullSecrets {
				seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("name"), str(s)}})
			}
			add("pullSecrets", seq)
		}
	}
	keys := make([]string, 0, len(t.kids))
	for k := range t.kids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, t.kids[k].node(pullSecrets))
	}
	return m
}

// str is a string scalar, quoted when YAML would read it as something else ("1.10").
func str(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	return n
}
