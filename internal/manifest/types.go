package manifest

import "strings"

// Media types of the manifests and indexes this tool carries.
const (
	OCIIndex       = "application/vnd.oci.image.index.v1+json"
	OCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	DockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// MediaTypes are the four, for an Accept header.
var MediaTypes = []string{OCIIndex, OCIManifest, DockerList, DockerManifest}

// IsIndex reports whether mt is an index (OCI) or a manifest list (Docker).
func IsIndex(mt string) bool { return mt == OCIIndex || mt == DockerList }

// IsManifest reports whether mt is an image manifest, OCI or Docker.
func IsManifest(mt string) bool { return mt == OCIManifest || mt == DockerManifest }

// IsDocker reports whether mt is one of Docker's schema 2 types.
func IsDocker(mt string) bool { return strings.HasPrefix(mt, "application/vnd.docker.") }

// Descriptor is the part of an OCI descriptor this tool reads.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Platform     *Platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

// Doc is a manifest or an index: the fields that name other content, and those of an OCI 1.1
// referrer (artifactType, subject, annotations).
type Doc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}
