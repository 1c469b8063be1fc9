package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Node is one manifest or index of an image, with what it references. Fields are set by Parse
// and FilterPlatforms; callers may set Config.
type Node struct {
	Desc     Descriptor
	Raw      []byte
	Children []*Node      // index: its manifests (and nested indexes)
	Blobs    []Descriptor // manifest: its config, then its layers
	Config   []byte       // manifest: its config, when it was fetched already
}

// FetchFunc returns the exact bytes of the manifest d names, verified against d.
type FetchFunc func(ctx context.Context, d Descriptor) ([]byte, error)

// maxDepth bounds indexes of indexes.
const maxDepth = 4

// Parse parses raw as the manifest or index d describes and fetches its children with fetch,
// recursively. Anything but an OCI or Docker v2 manifest or index is an error wrapping ErrBad,
// as is a descriptor with a malformed digest or a negative size.
func Parse(ctx context.Context, d Descriptor, raw []byte, fetch FetchFunc) (*Node, error) {
	return parse(ctx, d, raw, fetch, 0)
}

func parse(ctx context.Context, d Descriptor, raw []byte, fetch FetchFunc, depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: %s: indexes nested too deep", ErrBad, d.Digest)
	}
	var doc Doc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: not a manifest: %v", ErrBad, d.Digest, err)
	}
	if doc.MediaType != "" && doc.MediaType != d.MediaType {
		return nil, fmt.Errorf("%w: %s: served as %s but says it is %s", ErrBad, d.Digest, d.MediaType, doc.MediaType)
	}
	n := &Node{Desc: d, Raw: raw}
	switch {
	case IsIndex(d.MediaType):
		for _, c := range doc.Manifests {
			if err := checkDescriptor(c); err != nil {
				return nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if !IsIndex(c.MediaType) && !IsManifest(c.MediaType) {
				return nil, fmt.Errorf("%w: index %s: child %s has media type %q, not a manifest", ErrBad, d.Digest, c.Digest, c.MediaType)
			}
		}
		var err error
		if n.Children, err = parseChildren(ctx, doc.Manifests, fetch, depth+1); err != nil {
			return nil, err
		}
	case IsManifest(d.MediaType):
		if doc.Config == nil {
			return nil, fmt.Errorf("%w: manifest %s has no config", ErrBad, d.Digest)
		}
		for _, b := range append([]Descriptor{*doc.Config}, doc.Layers...) {
			if err := checkDescriptor(b); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			n.Blobs = append(n.Blobs, b)
		}
	default:
		return nil, fmt.Errorf("%w: %s: media type %q is not an OCI or Docker v2 manifest or index", ErrBad, d.Digest, d.MediaType)
	}
	return n, nil
}

// fetchers bounds the children of one index fetched at once: each is a round trip, which over
// a site's uplink costs more than the bytes.
const fetchers = 4

// parseChildren fetches and parses an index's children side by side, keeping their order. The
// error is the first child's, in order.
func parseChildren(ctx context.Context, ds []Descriptor, fetch FetchFunc, depth int) ([]*Node, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	nodes := make([]*Node, len(ds))
	errs := make([]error, len(ds))
	sem := make(chan struct{}, fetchers)
	var wg sync.WaitGroup
	for i, c := range ds {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			raw, err := fetch(ctx, c)
			if err == nil {
				nodes[i], err = parse(ctx, c, raw, fetch, depth)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

func checkDescriptor(d Descriptor) error {
	if err := verify.Check(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: descriptor %s: size %d", ErrBad, d.Digest, d.Size)
	}
	return nil
}

// Walk visits n and everything below it, children before parents.
func (n *Node) Walk(fn func(*Node)) {
	for _, c := range n.Children {
		c.Walk(fn)
	}
	fn(n)
}

// Platforms lists the platforms of an index's image manifests (attestations excluded).
func (n *Node) Platforms() []string {
	var out []string
	for _, c := range n.Children {
		if c.Desc.Platform != nil && c.Desc.Platform.OS != "unknown" {
			out = append(out, c.Desc.Platform.String())
		}
	}
	return out
}

// Size is the bytes of every blob below n (configs and layers), counting each once.
func (n *Node) Size() int64 {
	seen := map[string]bool{}
	var total int64
	n.Walk(func(m *Node) {
		for _, b := range m.Blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				total += b.Size
			}
		}
	})
	return total
}
