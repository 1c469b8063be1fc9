package archive

import (
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// FormatVersion is the version of the bundle format this package writes and reads.
const FormatVersion = 1

// Names of the fixed entries, in the order they appear in the tar.
const (
	ManifestName = "bundle.json"
	LayoutName   = "oci-layout"
	IndexName    = "index.json"
	blobPrefix   = "blobs/sha256/"
)

// ManifestMediaType identifies the bundle manifest.
const ManifestMediaType = "application/vnd.element.ess.bundle.manifest.v1+json"

// Limits a reader applies before it trusts anything in the file.
const (
	maxManifestSize = 64 << 20 // bundle.json
	maxTableSize    = 64 << 20 // the offset table
	maxWindow       = 64 << 20 // zstd window: larger is refused (hostile input)
	maxEntrySize    = 1 << 52  // 4 PiB: keeps the arithmetic on sizes far from overflow
)

// Blob kinds recorded in the manifest.
const (
	KindIndex    = "index"
	KindManifest = "manifest"
	KindConfig   = "config"
	KindLayer    = "layer"
)

// Manifest is the bundle manifest, the first entry of every bundle.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	MediaType     string    `json:"mediaType"`
	Tool          string    `json:"tool"`
	Created       time.Time `json:"created"`
	Source        Source    `json:"source"`
	Images        []Image   `json:"images"`
	// Blobs lists every blob in the order of the tar: indexes, manifests and configs, then layers.
	Blobs  []Blob `json:"blobs"`
	Layout Layout `json:"layout"`
	Totals Totals `json:"totals"`
	// Base, for a delta bundle, names what it was made against; External lists the layers its
	// images use that it does not carry, because the base has them.
	Base     *Base  `json:"base,omitempty"`
	External []Blob `json:"external,omitempty"`
	// Chart, for a bundle made with --chart, is the Helm chart as given; the chart itself is
	// one of Images (of kind KindChart), its image blocks others (with a ValuesPath).
	Chart *Chart `json:"chart,omitempty"`
	// Charts, for a bundle made with --chart given two or more times, are the charts in the
	// order given (Chart is then nil): one record per chart, as Chart is for one.
	Charts []Chart `json:"charts,omitempty"`
	// Referrers, for a bundle made with --referrers, are what refers to the images' manifests
	// and indexes (signatures, attestations, SBOMs), and to those referrers in turn, in the
	// order found: a subject before what refers to it. Their manifests and blobs are among Blobs.
	Referrers []Referrer `json:"referrers,omitempty"`
	// Provenance, for a bundle made with --policy, is the policy, the trusted root and the
	// verdict on each image's signatures (provenance.go).
	Provenance *Provenance `json:"provenance,omitempty"`
	// Missing, for a bundle written with bundle create --allow-partial, lists the containers
	// the run could not pull, and why: the bundle does not carry them, and unbundle push
	// writes no ConfigMap or Helm values for it unless told that this is accepted.
	Missing []Missing `json:"missing,omitempty"`
	// Files are plain files carried beside the image layout (bundle create --file,
	// --with-unbundle): each an entry of its own named Name at the top of the tar, after the
	// layers, verified like every entry.
	Files []PlainFile `json:"files,omitempty"`

	// byDigest indexes Blobs and External once a reader checked the manifest (decodeManifest);
	// nil for a manifest being built, which lookups then scan.
	byDigest map[string]Blob
}

// Missing is a container a partial bundle does not carry.
type Missing struct {
	imageref.Entry // component, container, server, path, tag; Key and Repository
	// ListedDigest is the digest the image list (or the chart's block) gave, if any.
	ListedDigest string `json:"listedDigest,omitempty"`
	// ValuesPath is the block's values path, for an image block of a chart.
	ValuesPath string `json:"valuesPath,omitempty"`
	// Reason is why it could not be pulled, as the run reported it.
	Reason string `json:"reason"`
}

// Ref is the source reference "server/path:tag" (or "server/path@listedDigest" without a tag).
func (m Missing) Ref() string { return m.RefAt(m.ListedDigest) }

// PlainFile is a file a bundle carries as it is: `zstd -dc B | tar -x NAME` extracts it.
type PlainFile struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	Executable bool   `json:"executable,omitempty"` // its tar entry has mode 0755
}

// CheckFileName refuses a plain file's name that is not one safe file name of its own: a path
// (/ or \), . or .., empty, over 255 bytes, or a name of the layout (bundle.json, oci-layout,
// index.json, blobs).
func CheckFileName(name string) error {
	switch {
	case name == "" || name == "." || name == ".." || len(name) > 255 || strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("file name %q: one file name, no path, no . or ..", name)
	case name == ManifestName || name == LayoutName || name == IndexName || name == "blobs":
		return fmt.Errorf("file name %q is a name of the bundle's layout", name)
	}
	return nil
}

// Referrer is a manifest (or index) that refers to another the bundle carries.
type Referrer struct {
	// Subject is the digest of what it refers to: a manifest or index of an image, or
	// another referrer.
	Subject   string `json:"subject"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// ArtifactType is what it is (manifest.ArtifactType): a signature
	// (application/vnd.dev.cosign.simplesigning.v1+json), an attestation, an SBOM.
	ArtifactType string `json:"artifactType,omitempty"`
	// Tag is cosign's tag it was found under, "sha256-<hex of Subject>.sig" (.att, .sbom);
	// empty for an OCI 1.1 referrer, whose subject field names Subject.
	Tag string `json:"tag,omitempty"`
}

// KindChart is the Kind of the image entry that is a Helm chart, not a container image.
const KindChart = "chart"

// Chart is the Helm chart a bundle carries, as given to bundle create --chart.
type Chart struct {
	Ref     string `json:"ref"` // oci://HOST/PATH/NAME:VERSION, or the file or directory given
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"` // of its OCI manifest: the digest of its entry in Images
	// Values are the operator's values files applied to the chart's values, in order.
	Values []File `json:"values,omitempty"`
}

// AllCharts returns the bundle's chart records, in the order given to bundle create: Chart,
// or Charts; none for a bundle without a chart.
func (m *Manifest) AllCharts() []*Chart {
	if m.Chart != nil {
		return []*Chart{m.Chart}
	}
	out := make([]*Chart, len(m.Charts))
	for i := range m.Charts {
		out[i] = &m.Charts[i]
	}
	return out
}

// ChartOf returns the record of the chart whose entries are component's (NAME.chart and
// NAME.<values path>), or nil.
func (m *Manifest) ChartOf(component string) *Chart {
	for _, ch := range m.AllCharts() {
		if ch.Name == component {
			return ch
		}
	}
	return nil
}

// File is a small file recorded in the manifest as given.
type File struct {
	Name    string `json:"name"`
	Digest  string `json:"digest"`
	Content string `json:"content"`
}

// Base identifies what a delta bundle was made against: an earlier bundle or an inventory of
// the destination registry.
type Base struct {
	Kind   string `json:"kind"`   // "bundle" or "inventory"
	Name   string `json:"name"`   // the file name as given
	Digest string `json:"digest"` // sha256 of that file
	// Paths are the repository paths (as in the image list, before any destination prefix)
	// of the base's images: where the destination keeps the blobs the delta relies on.
	Paths []string `json:"paths,omitempty"`
}

// Source is the image list the bundle was made from, as given.
type Source struct {
	Name    string   `json:"name"`
	Digest  string   `json:"digest"`
	Content string   `json:"content"`
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Image is one container of the image list and what the bundle carries for it.
type Image struct {
	imageref.Entry // component, container, server, path, tag; Key and Repository
	// ListedDigest is the digest the image list gave, if any.
	ListedDigest string `json:"listedDigest,omitempty"`
	// Digest, MediaType and Size describe the top-level manifest or index carried.
	Digest string `json:"digest"`
	// UpstreamDigest is the digest upstream serves, when the bundle carries a platform-filtered
	// index (or one platform's manifest) instead.
	UpstreamDigest string   `json:"upstreamDigest,omitempty"`
	MediaType      string   `json:"mediaType"`
	Size           int64    `json:"size"`
	Platforms      []string `json:"platforms,omitempty"`
	// Kind is KindChart for a Helm chart's artifact, empty for a container image.
	Kind string `json:"kind,omitempty"`
	// ValuesPath is, for an image named by an image block of the chart's values, the block's
	// path ("synapse.image").
	ValuesPath string `json:"valuesPath,omitempty"`
}

// Ref is the source reference "server/path:tag" (or "server/path@digest" without a tag, the
// digest carried); "path:tag" for a chart read from a file, which has no server.
func (i Image) Ref() string {
	if i.Server == "" {
		return strings.TrimPrefix(i.RefAt(i.Digest), "/")
	}
	return i.RefAt(i.Digest)
}

// IsContainer reports whether the entry is a container image of the image list: neither a
// chart nor one of its image blocks. Only those go in the ConfigMap.
func (i Image) IsContainer() bool { return i.Kind == "" && i.ValuesPath == "" }

// Blob is one content-addressed entry under blobs/sha256/.
type Blob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
	Kind      string `json:"kind"`
}

// Layout records the digests of the two layout files, so that they are verified too.
type Layout struct {
	OCILayout string `json:"ociLayout"`
	Index     string `json:"index"`
}

// Totals sums the manifest up.
type Totals struct {
	Images    int   `json:"images"`
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blobBytes"`
}

// BlobName is the tar entry name of a blob: "blobs/sha256/<hex>".
func BlobName(digest string) string { return blobPrefix + strings.TrimPrefix(digest, "sha256:") }

// BlobByDigest returns the record of a blob the bundle carries.
func (m *Manifest) BlobByDigest(digest string) (Blob, bool) {
	if m.byDigest != nil {
		b, ok := m.byDigest[digest]
		return b, ok
	}
	for _, b := range m.Blobs {
		if b.Digest == digest {
			return b, true
		}
	}
	return Blob{}, false
}

// ExternalBlob returns the record of a blob a delta bundle relies on its base for.
func (m *Manifest) ExternalBlob(digest string) (Blob, bool) {
	if m.byDigest != nil {
		b, ok := m.byDigest[digest+" external"]
		return b, ok
	}
	for _, b := range m.External {
		if b.Digest == digest {
			return b, true
		}
	}
	return Blob{}, false
}

// index makes the lookups of a checked manifest constant-time: blobs under their digest,
// external blobs under "DIGEST external".
func (m *Manifest) index() {
	idx := make(map[string]Blob, len(m.Blobs)+len(m.External))
	for _, b := range m.Blobs {
		idx[b.Digest] = b
	}
	for _, b := range m.External {
		idx[b.Digest+" external"] = b
	}
	m.byDigest = idx
}

// expected maps every entry name the manifest allows to its digest and size (size -1: unknown).
func (m *Manifest) expected() map[string]Blob {
	want := make(map[string]Blob, len(m.Blobs)+2)
	want[LayoutName] = Blob{Digest: m.Layout.OCILayout, Size: -1}
	want[IndexName] = Blob{Digest: m.Layout.Index, Size: -1}
	for _, b := range m.Blobs {
		want[BlobName(b.Digest)] = b
	}
	for _, f := range m.Files {
		want[f.Name] = Blob{Digest: f.Digest, Size: f.Size}
	}
	return want
}
