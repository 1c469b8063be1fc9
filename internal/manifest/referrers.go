package manifest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// What refers to a manifest: an OCI 1.1 referrer names it in its subject field (found through
// the referrers API, or the index the referrers tag scheme keeps under FallbackTag); cosign's
// tag scheme tags its signatures, attestations and SBOMs CosignTag(digest, suffix).

// Media types of referrers.
const (
	OCIConfig = "application/vnd.oci.image.config.v1+json" // the generic image config cosign uses
	OCIEmpty  = "application/vnd.oci.empty.v1+json"        // the empty config of OCI 1.1 artifacts
)

// CosignSuffixes are the suffixes of cosign's tags: signatures, attestations, SBOMs.
var CosignSuffixes = []string{"sig", "att", "sbom"}

// FallbackTag is the tag of the referrers tag scheme for digest: "sha256-<hex>".
func FallbackTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// CosignTag is cosign's tag for digest and a suffix: "sha256-<hex>.sig".
func CosignTag(digest, suffix string) string { return FallbackTag(digest) + "." + suffix }

// CosignSubject returns the digest a cosign tag names ("" if tag is not one).
func CosignSubject(tag string) string {
	base, suffix, ok := strings.Cut(tag, ".")
	if !ok || !strings.HasPrefix(base, "sha256-") {
		return ""
	}
	for _, s := range CosignSuffixes {
		if suffix == s {
			d := strings.Replace(base, "-", ":", 1)
			if verify.Check(d) == nil {
				return d
			}
		}
	}
	return ""
}

// SubjectOf returns the digest the subject field of a manifest or index names, or "".
func SubjectOf(raw []byte) string {
	var doc Doc
	if json.Unmarshal(raw, &doc) != nil || doc.Subject == nil {
		return ""
	}
	return doc.Subject.Digest
}

// ArtifactType is what a referrer is, for people and filters: its artifactType, else its
// config's media type, unless that is the generic image config or the empty one, as with
// cosign's signatures and attestations; then the media type of its first layer
// (application/vnd.dev.cosign.simplesigning.v1+json, application/vnd.dsse.envelope.v1+json).
func ArtifactType(raw []byte) string {
	var doc Doc
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	switch {
	case doc.ArtifactType != "":
		return doc.ArtifactType
	case doc.Config != nil && doc.Config.MediaType != OCIConfig && doc.Config.MediaType != OCIEmpty:
		return doc.Config.MediaType
	case len(doc.Layers) > 0:
		return doc.Layers[0].MediaType
	}
	return ""
}

// Matches reports whether a referrer is of one of types: its ArtifactType, its artifactType
// field, its config's media type, or one of its layers' media types. No types match all.
func Matches(raw []byte, types []string) bool {
	if len(types) == 0 {
		return true
	}
	var doc Doc
	if json.Unmarshal(raw, &doc) != nil {
		return false
	}
	have := []string{ArtifactType(raw), doc.ArtifactType}
	if doc.Config != nil {
		have = append(have, doc.Config.MediaType)
	}
	for _, l := range doc.Layers {
		have = append(have, l.MediaType)
	}
	for _, t := range types {
		for _, h := range have {
			if h != "" && h == t {
				return true
			}
		}
	}
	return false
}

// ReferrerDescriptor is the descriptor of a referrer in a referrers list (the referrers API's
// answer, the fallback tag's index), as the distribution spec has it: media type, digest,
// size, artifactType (the manifest's, else its config's media type) and its annotations.
func ReferrerDescriptor(raw []byte, mediaType string) Descriptor {
	d := Descriptor{MediaType: mediaType, Digest: verify.Digest(raw), Size: int64(len(raw))}
	var doc Doc
	if json.Unmarshal(raw, &doc) == nil {
		d.ArtifactType, d.Annotations = doc.ArtifactType, doc.Annotations
		if d.ArtifactType == "" && doc.Config != nil {
			d.ArtifactType = doc.Config.MediaType
		}
	}
	return d
}

// ReferrersIndex is the OCI index listing descs, the referrers API's answer.
func ReferrersIndex(descs []Descriptor) []byte {
	if descs == nil {
		descs = []Descriptor{}
	}
	raw, _ := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}{2, OCIIndex, descs})
	return raw
}

// MergeReferrers adds to the referrers index raw (the fallback tag's; nil when there is none)
// the descriptors of add it does not list. Every entry of raw is kept as it is, fields this
// package does not know included, and in its place; the new ones follow, in order. It
// returns whether anything was added. An index that is not an OCI index is an error.
func MergeReferrers(raw []byte, add []Descriptor) ([]byte, bool, error) {
	doc := map[string]json.RawMessage{}
	var entries []json.RawMessage
	if raw != nil {
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, false, fmt.Errorf("%w: referrers index: %v", ErrBad, err)
		}
		var mt string
		json.Unmarshal(doc["mediaType"], &mt)
		if mt != OCIIndex {
			return nil, false, fmt.Errorf("%w: referrers index of media type %q, not an OCI index", ErrBad, mt)
		}
		if m, ok := doc["manifests"]; ok && string(m) != "null" {
			if err := json.Unmarshal(m, &entries); err != nil {
				return nil, false, fmt.Errorf("%w: referrers index: %v", ErrBad, err)
			}
		}
	} else {
		doc["schemaVersion"], doc["mediaType"] = json.RawMessage(`2`), json.RawMessage(`"`+OCIIndex+`"`)
	}
	have := map[string]bool{}
	for _, e := range entries {
		var d Descriptor
		json.Unmarshal(e, &d)
		have[d.Digest] = true
	}
	added := false
	for _, d := range add {
		if have[d.Digest] {
			continue
		}
		have[d.Digest] = true
		e, _ := json.Marshal(d)
		entries = append(entries, e)
		added = true
	}
	if !added {
		return raw, false, nil
	}
	if entries == nil {
		entries = []json.RawMessage{}
	}
	doc["manifests"], _ = json.Marshal(entries)
	out, err := json.Marshal(doc)
	return out, true, err
}
