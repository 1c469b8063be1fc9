package mirror

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Media types of manifests and indexes this tool carries.
const (
	ociIndex       = "application/vnd.oci.image.index.v1+json"
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

func isIndex(mt string) bool    { return mt == ociIndex || mt == dockerList }
func isManifest(mt string) bool { return mt == ociManifest || mt == dockerManifest }

// descriptor is the part of an OCI descriptor this tool reads.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Platform     *platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

type platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

func (p *platform) String() string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// manifestDoc is a manifest or an index: the fields that name other content.
type manifestDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

// node is one manifest or index of an image, with what it references.
type node struct {
	desc     descriptor
	raw      []byte
	children []*node      // index: its manifests (and nested indexes)
	blobs    []descriptor // manifest: its config, then its layers
	config   []byte       // manifest: its config, when it was fetched already
}

// fetchFunc returns the exact bytes of the manifest d names, verified against d.
type fetchFunc func(ctx context.Context, d descriptor) ([]byte, error)

// parseNode parses raw as the manifest or index d describes and fetches its children.
func parseNode(ctx context.Context, d descriptor, raw []byte, fetch fetchFunc, depth int) (*node, error) {
	if depth > 4 {
		return nil, fmt.Errorf("%w: %s: indexes nested too deep", ErrBadManifest, d.Digest)
	}
	var doc manifestDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: not a manifest: %v", ErrBadManifest, d.Digest, err)
	}
	if doc.MediaType != "" && doc.MediaType != d.MediaType {
		return nil, fmt.Errorf("%w: %s: served as %s but says it is %s", ErrBadManifest, d.Digest, d.MediaType, doc.MediaType)
	}
	n := &node{desc: d, raw: raw}
	switch {
	case isIndex(d.MediaType):
		for _, c := range doc.Manifests {
			if err := checkDescriptor(c); err != nil {
				return nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if !isIndex(c.MediaType) && !isManifest(c.MediaType) {
				return nil, fmt.Errorf("%w: index %s: child %s has media type %q, not a manifest", ErrBadManifest, d.Digest, c.Digest, c.MediaType)
			}
			craw, err := fetch(ctx, c)
			if err != nil {
				return nil, err
			}
			child, err := parseNode(ctx, c, craw, fetch, depth+1)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
	case isManifest(d.MediaType):
		if doc.Config == nil {
			return nil, fmt.Errorf("%w: manifest %s has no config", ErrBadManifest, d.Digest)
		}
		for _, b := range append([]descriptor{*doc.Config}, doc.Layers...) {
			if err := checkDescriptor(b); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			n.blobs = append(n.blobs, b)
		}
	default:
		return nil, fmt.Errorf("%w: %s: media type %q is not an OCI or Docker v2 manifest or index", ErrBadManifest, d.Digest, d.MediaType)
	}
	return n, nil
}

func checkDescriptor(d descriptor) error {
	if err := verify.Check(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("descriptor %s: size %d", d.Digest, d.Size)
	}
	return nil
}

// walk visits n and everything below it, children before parents.
func (n *node) walk(fn func(*node)) {
	for _, c := range n.children {
		c.walk(fn)
	}
	fn(n)
}

// platforms lists the platforms of an index's image manifests (attestations excluded).
func (n *node) platforms() []string {
	var out []string
	for _, c := range n.children {
		if c.desc.Platform != nil && c.desc.Platform.OS != "unknown" {
			out = append(out, c.desc.Platform.String())
		}
	}
	return out
}
