package report

// Diff is what `diff --json` prints.
type Diff struct {
	SchemaVersion int          `json:"schema_version"`
	Command       string       `json:"command"` // "diff"
	Old           string       `json:"old"`
	New           string       `json:"new"`
	Added         []DiffEntry  `json:"added"`     // in NEW only
	Removed       []DiffEntry  `json:"removed"`   // in OLD only
	Changed       []DiffChange `json:"changed"`   // in both, some field differs
	Unchanged     int          `json:"unchanged"` // in both, the same
	// Delta, when both sides are bundles: the blobs of NEW that OLD does not hold.
	Delta *Delta `json:"delta,omitempty"`
}

// DiffEntry is a container's image on one side.
type DiffEntry struct {
	Key    string `json:"key"` // component.container
	Server string `json:"server"`
	Path   string `json:"path"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// DiffChange is a container whose image differs.
type DiffChange struct {
	Key    string        `json:"key"`
	Fields []FieldChange `json:"fields"`
}

// FieldChange is one field that differs: "server", "path", "tag" or "digest".
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Delta counts what a delta from OLD to NEW would carry.
type Delta struct {
	Blobs      int   `json:"blobs"`
	Bytes      int64 `json:"bytes"`
	TotalBlobs int   `json:"total_blobs"`
	TotalBytes int64 `json:"total_bytes"`
}

// Inventory is what `unbundle inventory --json` prints: a summary of the inventory file it
// wrote (--output, whose own format is in docs/bundle-format.md).
type Inventory struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"` // "inventory"
	Registry      string `json:"registry"`
	Output        string `json:"output"`       // the inventory file written
	Repositories  int    `json:"repositories"` // looked at
	Absent        int    `json:"absent"`       // of which absent or without tags
	Tags          int    `json:"tags"`
	Manifests     int    `json:"manifests"`
	Blobs         int    `json:"blobs"`
}

// Check is what `unbundle check --json` prints. Problems make the exit code 5.
type Check struct {
	SchemaVersion int       `json:"schema_version"`
	Command       string    `json:"command"` // "check"
	Registry      string    `json:"registry"`
	OK            bool      `json:"ok"`
	Notes         []string  `json:"notes"` // how the registry behaves: mounts, body limit, referrers API
	Problems      []Problem `json:"problems"`
}

// CheckValues is what `unbundle check-values --json` prints. Images not local make the exit
// code 6.
type CheckValues struct {
	SchemaVersion int        `json:"schema_version"`
	Command       string     `json:"command"` // "check-values"
	Chart         string     `json:"chart"`
	Version       string     `json:"version"`
	Values        []string   `json:"values"` // the values files applied, in order
	OK            bool       `json:"ok"`
	Containers    int        `json:"containers"` // containers the rendered chart runs
	Images        int        `json:"images"`     // distinct images among them
	NotLocal      []NotLocal `json:"not_local"`
	Error         string     `json:"error,omitempty"` // why the check could not finish
}

// NotLocal is an image the chart would pull from elsewhere than the local registry by digest.
type NotLocal struct {
	Image  string   `json:"image"`
	Reason string   `json:"reason"`
	UsedBy []string `json:"used_by"` // "Deployment/ess-synapse container synapse"
}
