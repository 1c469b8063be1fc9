package report

import "github.com/element-hq/ess-airgap/internal/version"

// Version is what `bundle version --json` and `unbundle version --json` print.
type Version struct {
	SchemaVersion int    `json:"schema_version"`
	Program       string `json:"program"` // "bundle" or "unbundle"
	version.Info
}
