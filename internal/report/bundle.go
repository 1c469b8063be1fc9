package report

import "time"

// Verify is what `verify --json` prints. A bundle that fails verification prints it too, with
// ok false (exit code 3).
type Verify struct {
	SchemaVersion int       `json:"schema_version"`
	Command       string    `json:"command"` // "verify"
	Bundle        string    `json:"bundle"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	OK            bool      `json:"ok"`
	// SHA256 is the file's (for a bundle in parts: the joined file's, from the checksum file).
	SHA256 string `json:"sha256,omitempty"`
	// Checksum is "matched" (NAME.tar.zst.sha256 agrees) or "missing" (no checksum file).
	Checksum string     `json:"checksum,omitempty"`
	Parts    []Part     `json:"parts,omitempty"` // a bundle in parts: every part, a problem named
	Bad      []BadEntry `json:"bad"`             // entries whose content did not verify
	Error    string     `json:"error,omitempty"` // why the bundle failed, when ok is false
}

// BadEntry is an entry of the bundle that failed verification.
type BadEntry struct {
	Name   string   `json:"name"`
	Digest string   `json:"digest"`
	UsedBy []string `json:"used_by"` // the containers that use it
	Error  string   `json:"error"`
}

// List is what `list --json` prints: the bundle's contents, from its head.
type List struct {
	SchemaVersion int           `json:"schema_version"`
	Command       string        `json:"command"` // "list"
	Bundle        string        `json:"bundle"`
	Size          int64         `json:"size"`    // bytes of the bundle file
	Created       time.Time     `json:"created"` // when it was made
	Tool          string        `json:"tool"`    // what made it: "bundle v1.2.3"
	Images        []ListImage   `json:"images"`
	Referrers     []Referrer    `json:"referrers,omitempty"`
	Chart         *Chart        `json:"chart,omitempty"`
	Base          *Base         `json:"base,omitempty"`     // a delta bundle's base
	External      *Count        `json:"external,omitempty"` // the layers a delta leaves to its base
	Files         []File        `json:"files,omitempty"`
	Totals        CreateTotals  `json:"totals"`
	Source        *ListedSource `json:"source,omitempty"` // the image list it was made from
}

// ListImage is one container of a bundle.
type ListImage struct {
	Container      string   `json:"container"` // component.container
	Source         string   `json:"source"`    // SERVER/PATH:TAG it was pulled from
	Digest         string   `json:"digest"`
	UpstreamDigest string   `json:"upstream_digest,omitempty"` // when --platform changed the digest
	MediaType      string   `json:"media_type"`
	Size           int64    `json:"size"` // of the top-level manifest or index
	Platforms      []string `json:"platforms"`
	Kind           string   `json:"kind,omitempty"`        // "chart" for a Helm chart
	ValuesPath     string   `json:"values_path,omitempty"` // an image block of the chart's values
}

// Referrer is a signature, attestation or SBOM a bundle carries for an image.
type Referrer struct {
	Subject      string `json:"subject"`
	Digest       string `json:"digest"`
	MediaType    string `json:"media_type"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifact_type,omitempty"`
	Tag          string `json:"tag,omitempty"` // cosign's tag, sha256-<hex>.sig
}

// Chart is the Helm chart a bundle carries.
type Chart struct {
	Ref     string   `json:"ref"`
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Digest  string   `json:"digest"`
	Values  []string `json:"values"` // the --values files applied, by name
}

// ListedSource is the image list a bundle was made from.
type ListedSource struct {
	Name    string   `json:"name"`
	Digest  string   `json:"digest"`
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}
