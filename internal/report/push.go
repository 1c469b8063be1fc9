package report

import "time"

// Push is what `unbundle push --json` prints and `--report FILE` writes.
type Push struct {
	SchemaVersion int       `json:"schema_version"`
	Command       string    `json:"command"` // "push"
	Tool          string    `json:"tool"`    // "unbundle v1.2.3"
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Bundle        string    `json:"bundle"`
	Registry      string    `json:"registry"` // HOST[:PORT][/PREFIX] as given
	// OK is true when every image (and referrer) was pushed and read back.
	OK     bool      `json:"ok"`
	Stats  PushStats `json:"stats"`
	Images []Image   `json:"images"` // as the registry serves them, digests read back
	Failed []Failure `json:"failed"`
	// ReferrersFailed are referrers not pushed ("repository: referrer"), the images being fine.
	ReferrersFailed []ReferrerFailure `json:"referrers_failed,omitempty"`
	// Problems stopped the push before any blob was sent (exit code 5).
	Problems []Problem `json:"problems,omitempty"`
	// ConfigMap and HelmValues are the files written; absent when none was.
	ConfigMap  string `json:"configmap,omitempty"`
	HelmValues string `json:"helm_values,omitempty"`
}

// PushStats counts what a push did.
type PushStats struct {
	BlobsUploaded    int64 `json:"blobs_uploaded"`
	BlobsMounted     int64 `json:"blobs_mounted"`
	BlobsSkipped     int64 `json:"blobs_skipped"` // the registry had them
	BytesUploaded    int64 `json:"bytes_uploaded"`
	ManifestsPushed  int64 `json:"manifests_pushed"`
	ManifestsSkipped int64 `json:"manifests_skipped"`
	ReferrersPushed  int64 `json:"referrers_pushed"`
	ReferrersSkipped int64 `json:"referrers_skipped"`
	ReferrersFailed  int64 `json:"referrers_failed"`
}

// ReferrerFailure is a referrer that was not pushed.
type ReferrerFailure struct {
	Referrer string `json:"referrer"`
	Error    string `json:"error"`
}
