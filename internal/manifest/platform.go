package manifest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Platform is os/architecture[/variant]: a descriptor's platform, or one asked for.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// ParsePlatform reads "os/arch" or "os/arch/variant".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func (p *Platform) String() string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Matches reports whether q is p (any variant when p names none).
func (p Platform) Matches(q *Platform) bool {
	return q != nil && q.OS == p.OS && q.Architecture == p.Architecture && (p.Variant == "" || q.Variant == p.Variant)
}

// AttestationOf returns the digest an attestation manifest describes, or "".
func AttestationOf(d Descriptor) string {
	if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
		return ""
	}
	return d.Annotations["vnd.docker.reference.digest"]
}

// FilterPlatforms keeps only the given platforms of an index. Each must be there (else an
// error wrapping ErrPlatform). It returns a new index, with the attestation manifests of the
// kept platforms, or, when one platform is left, that platform's manifest itself; when every
// platform is kept, n itself. Other fields of the index are kept as they were.
func FilterPlatforms(n *Node, want []Platform) (*Node, error) {
	if !IsIndex(n.Desc.MediaType) {
		return n, nil
	}
	kept := map[string]bool{}
	var children []*Node
	for _, p := range want {
		found := false
		for _, c := range n.Children {
			if p.Matches(c.Desc.Platform) && AttestationOf(c.Desc) == "" {
				found = true
				if !kept[c.Desc.Digest] {
					kept[c.Desc.Digest] = true
					children = append(children, c)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %s is not in index %s (it has %s)", ErrPlatform, p.String(), n.Desc.Digest, strings.Join(n.Platforms(), ", "))
		}
	}
	if len(children) == 1 {
		return children[0], nil
	}
	for _, c := range n.Children {
		if ref := AttestationOf(c.Desc); ref != "" && kept[ref] {
			children = append(children, c)
		}
	}
	if len(children) == len(n.Children) { // everything kept: the upstream index as it is
		return n, nil
	}
	// Keep the order of the original index and every field it has.
	var doc map[string]json.RawMessage
	var descs []json.RawMessage
	if err := json.Unmarshal(n.Raw, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc["manifests"], &descs); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, c := range children {
		keep[c.Desc.Digest] = true
	}
	var out []json.RawMessage
	var ordered []*Node
	for i, c := range n.Children {
		if keep[c.Desc.Digest] {
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
	d := n.Desc
	d.Digest, d.Size = verify.Digest(raw), int64(len(raw))
	return &Node{Desc: d, Raw: raw, Children: ordered}, nil
}
