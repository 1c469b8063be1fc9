package mirror

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Platform is os/arch[/variant], as given to --platform.
type Platform struct{ OS, Arch, Variant string }

// ParsePlatform reads "os/arch" or "os/arch/variant".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("--platform %q: want os/arch or os/arch/variant", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Arch
	}
	return p.OS + "/" + p.Arch + "/" + p.Variant
}

// matches reports whether a descriptor's platform is p (any variant when p names none).
func (p Platform) matches(q *platform) bool {
	return q != nil && q.OS == p.OS && q.Architecture == p.Arch && (p.Variant == "" || q.Variant == p.Variant)
}

// attestationOf returns the digest an attestation manifest describes, or "".
func attestationOf(d descriptor) string {
	if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
		return ""
	}
	return d.Annotations["vnd.docker.reference.digest"]
}

// filterPlatforms keeps only the given platforms of an index. Each must be there. It returns a
// new index, with the attestation manifests of the kept platforms, or, when one platform is
// left, that platform's manifest itself. Other fields of the index are kept as they were.
func filterPlatforms(n *node, want []Platform) (*node, error) {
	if !isIndex(n.desc.MediaType) {
		return n, nil
	}
	kept := map[string]bool{}
	var children []*node
	for _, p := range want {
		found := false
		for _, c := range n.children {
			if p.matches(c.desc.Platform) && attestationOf(c.desc) == "" {
				found = true
				if !kept[c.desc.Digest] {
					kept[c.desc.Digest] = true
					children = append(children, c)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %s is not in index %s (it has %s)", ErrPlatform, p, n.desc.Digest, strings.Join(n.platforms(), ", "))
		}
	}
	if len(children) == 1 {
		return children[0], nil
	}
	for _, c := range n.children {
		if ref := attestationOf(c.desc); ref != "" && kept[ref] {
			children = append(children, c)
		}
	}
	if len(children) == len(n.children) { // everything kept: the upstream index as it is
		return n, nil
	}
	// Keep the order of the original index and every field it has.
	var doc map[string]json.RawMessage
	var descs []json.RawMessage
	if err := json.Unmarshal(n.raw, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc["manifests"], &descs); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, c := range children {
		keep[c.desc.Digest] = true
	}
	var out []json.RawMessage
	var ordered []*node
	for i, c := range n.children {
		if keep[c.desc.Digest] {
			out = append(out, descs[i])
			ordered = append(ordered, c)
		}
	}
	list, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	doc["manifests"] = list
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	d := n.desc
	d.Digest, d.Size = verify.Digest(raw), int64(len(raw))
	return &node{desc: d, raw: raw, children: ordered}, nil
}
