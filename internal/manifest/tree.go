package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Node is one manifest or index of an image, with what it references. Fields are set by Parse
// and FilterPlatforms; callers may set Config.
//
// An image's manifests form a graph, not a tree: an index may list one manifest many times,
// and two indexes of an image may share a child. Parse reads each digest once and the nodes
// of one digest share its Raw, Children and Blobs (each keeps the descriptor it was listed
// with); Walk visits each digest once.
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
// recursively, each distinct digest once however many times it is listed. Anything but an OCI
// or Docker v2 manifest or index is an error wrapping ErrBad, as is a descriptor with a
// malformed digest or a negative size, a digest listed with two sizes or media types, indexes
// nested deeper than 4, a manifest or index over MaxBytes (refused before it is fetched: the
// descriptor says its size) and a graph over MaxNodes or MaxGraphBytes (ErrTooLarge and
// ErrGraph, with ErrBad).
func Parse(ctx context.Context, d Descriptor, raw []byte, fetch FetchFunc) (*Node, error) {
	if err := CheckSize("manifest "+d.Digest, int64(len(raw))); err != nil {
		return nil, err
	}
	g := &graph{fetch: fetch, parsed: map[string]*parsed{}, nodes: 1}
	return g.node(ctx, d, raw, 0, nil)
}

// graph is the state of one Parse: every digest parsed (or being parsed), and the budget spent.
type graph struct {
	fetch FetchFunc

	mu     sync.Mutex
	parsed map[string]*parsed
	nodes  int   // descriptors listed by the distinct manifests and indexes, and the root
	bytes  int64 // of the distinct manifests and indexes
}

// parsed is the parse of one digest, shared by every node of it; done is closed once it is set.
type parsed struct {
	done     chan struct{}
	desc     Descriptor // as first listed
	raw      []byte
	children []*Node
	blobs    []Descriptor
	height   int // 0 for a manifest, 1 + the highest child's for an index
	err      error
}

// node returns the node of d at depth (raw: its bytes, or nil to fetch them), parsing the
// digest the first time only. path is the digests above it, to refuse a graph that names
// itself (which verified content cannot do).
func (g *graph) node(ctx context.Context, d Descriptor, raw []byte, depth int, path []string) (*Node, error) {
	if slices.Contains(path, d.Digest) {
		return nil, fmt.Errorf("%w: %s lists itself", ErrBad, d.Digest)
	}
	g.mu.Lock()
	p, seen := g.parsed[d.Digest]
	if !seen {
		p = &parsed{done: make(chan struct{}), desc: d}
		g.parsed[d.Digest] = p
	}
	g.mu.Unlock()
	if seen {
		if p.desc.MediaType != d.MediaType || p.desc.Size != d.Size {
			return nil, fmt.Errorf("%w: %s is listed as %d bytes of %s and as %d bytes of %s", ErrBad, d.Digest, p.desc.Size, p.desc.MediaType, d.Size, d.MediaType)
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if p.err == nil && depth+p.height > maxDepth {
			return nil, fmt.Errorf("%w: %s: indexes nested too deep", ErrBad, d.Digest)
		}
	} else {
		p.err = g.parse(ctx, p, raw, depth, append(slices.Clip(path), d.Digest))
		close(p.done)
	}
	if p.err != nil {
		return nil, p.err
	}
	return &Node{Desc: d, Raw: p.raw, Children: p.children, Blobs: p.blobs}, nil
}

// parse fetches (when raw is nil) and parses p.desc, with its children.
func (g *graph) parse(ctx context.Context, p *parsed, raw []byte, depth int, path []string) error {
	d := p.desc
	if depth > maxDepth {
		return fmt.Errorf("%w: %s: indexes nested too deep", ErrBad, d.Digest)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if raw == nil {
		var err error
		if raw, err = g.fetch(ctx, d); err != nil {
			return err
		}
	}
	if err := CheckSize("manifest "+d.Digest, int64(len(raw))); err != nil { // a fetch that did not check the size
		return err
	}
	var doc Doc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%w: %s: not a manifest: %v", ErrBad, d.Digest, err)
	}
	if doc.MediaType != "" && doc.MediaType != d.MediaType {
		return fmt.Errorf("%w: %s: served as %s but says it is %s", ErrBad, d.Digest, d.MediaType, doc.MediaType)
	}
	p.raw = raw
	switch {
	case IsIndex(d.MediaType):
		if err := g.spend(d.Digest, len(doc.Manifests), len(raw)); err != nil {
			return err
		}
		for _, c := range doc.Manifests {
			if err := checkDescriptor(c); err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if !IsIndex(c.MediaType) && !IsManifest(c.MediaType) {
				return fmt.Errorf("%w: index %s: child %s has media type %q, not a manifest", ErrBad, d.Digest, c.Digest, c.MediaType)
			}
			if err := CheckSize(fmt.Sprintf("manifest %s (listed by index %s)", c.Digest, d.Digest), c.Size); err != nil {
				return err
			}
		}
		var err error
		if p.children, err = g.children(ctx, doc.Manifests, depth+1, path); err != nil {
			return err
		}
		for _, c := range p.children {
			if IsIndex(c.Desc.MediaType) {
				g.mu.Lock()
				h := g.parsed[c.Desc.Digest].height
				g.mu.Unlock()
				p.height = max(p.height, h)
			}
		}
		p.height++
	case IsManifest(d.MediaType):
		if doc.Config == nil {
			return fmt.Errorf("%w: manifest %s has no config", ErrBad, d.Digest)
		}
		if err := g.spend(d.Digest, 1+len(doc.Layers), len(raw)); err != nil {
			return err
		}
		for _, b := range append([]Descriptor{*doc.Config}, doc.Layers...) {
			if err := checkDescriptor(b); err != nil {
				return fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			p.blobs = append(p.blobs, b)
		}
	default:
		return fmt.Errorf("%w: %s: media type %q is not an OCI or Docker v2 manifest or index", ErrBad, d.Digest, d.MediaType)
	}
	return nil
}

// spend counts a distinct manifest or index of size bytes listing n descriptors against the
// graph's budget.
func (g *graph) spend(digest string, n, size int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes += n
	g.bytes += int64(size)
	switch {
	case g.nodes > MaxNodes:
		return graphError("image graph too large: at %s the image lists more than %d manifests, configs and layers (each distinct manifest counted once)", digest, MaxNodes)
	case g.bytes > MaxGraphBytes:
		return graphError("image graph too large: at %s the image's distinct manifests and indexes pass %d MiB", digest, MaxGraphBytes>>20)
	}
	return nil
}

// fetchers bounds the children of one index fetched at once: each is a round trip, which over
// a site's uplink costs more than the bytes.
const fetchers = 4

// children fetches and parses an index's children side by side, keeping their order. The
// error is the first child's, in order.
func (g *graph) children(ctx context.Context, ds []Descriptor, depth int, path []string) ([]*Node, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	nodes := make([]*Node, len(ds))
	errs := make([]error, len(ds))
	sem := make(chan struct{}, fetchers)
	var wg sync.WaitGroup
	for i, c := range ds {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			nodes[i], errs[i] = g.node(ctx, c, nil, depth, path)
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

// Walk visits n and everything below it, children before parents, each digest once (the
// first node of it met, depth first in the order the indexes list them).
func (n *Node) Walk(fn func(*Node)) {
	n.walk(map[string]bool{}, fn)
}

func (n *Node) walk(seen map[string]bool, fn func(*Node)) {
	if seen[n.Desc.Digest] {
		return
	}
	seen[n.Desc.Digest] = true
	for _, c := range n.Children {
		c.walk(seen, fn)
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
