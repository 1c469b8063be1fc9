package report

import "time"

// Create is what `bundle create --json` prints and `--report FILE` writes.
type Create struct {
	SchemaVersion int       `json:"schema_version"`
	Command       string    `json:"command"` // "create"
	Tool          string    `json:"tool"`    // "bundle v1.2.3"
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Bundle        string    `json:"bundle"` // NAME.tar.zst as given
	DryRun        bool      `json:"dry_run"`
	// OK is true when every container was carried (or, with dry_run, resolved).
	OK bool `json:"ok"`
	// SHA256 and Size are the bundle file's (the joined file's, in parts); absent with dry_run.
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Parts, for a bundle written in parts (--split-size): data parts then parity parts.
	Parts   []Part       `json:"parts,omitempty"`
	Created time.Time    `json:"created"` // the bundle's creation time, as its manifest records it
	Totals  CreateTotals `json:"totals"`
	// Plan is what the run had to move: blobs, bytes pulled, found in the cache, left out.
	Plan Plan `json:"plan"`
	// Kept is what was taken, verified, from the unfinished bundle of a stopped run.
	Kept   Count     `json:"kept"`
	Images []Image   `json:"images"` // every container carried, source reference and digest
	Failed []Failure `json:"failed"` // containers left out: the exit code is then 4
	// Referrers is the number of referrers carried (--referrers); SkippedReferrers those found
	// and not carried, and why.
	Referrers        int               `json:"referrers"`
	SkippedReferrers []SkippedReferrer `json:"skipped_referrers,omitempty"`
	Files            []File            `json:"files,omitempty"` // --file, --with-unbundle
	Base             *Base             `json:"base,omitempty"`  // a delta (--since)
	Signature        string            `json:"signature,omitempty"`
}

// CreateTotals sums a bundle up.
type CreateTotals struct {
	Images        int   `json:"images"`
	Blobs         int   `json:"blobs"`
	BlobBytes     int64 `json:"blob_bytes"`
	ExternalBlobs int   `json:"external_blobs"` // a delta's layers left to its base
	ExternalBytes int64 `json:"external_bytes"`
}

// Plan is what a run moves.
type Plan struct {
	Blobs         int   `json:"blobs"`
	Bytes         int64 `json:"bytes"`
	PullBytes     int64 `json:"pull_bytes"`
	CachedBlobs   int   `json:"cached_blobs"`
	CachedBytes   int64 `json:"cached_bytes"`
	ExternalBlobs int   `json:"external_blobs"`
	ExternalBytes int64 `json:"external_bytes"`
}

// SkippedReferrer is a referrer found and not carried.
type SkippedReferrer struct {
	Referrer string `json:"referrer"`
	Image    string `json:"image"`
	Reason   string `json:"reason"`
}
