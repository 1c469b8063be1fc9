package report

// Event is one line that --log-format json writes on stderr: a message, a progress tick, an
// image or blob reaching a phase, or the exit of a failed command. Keys that do not apply to
// an event are absent.
type Event struct {
	Time    string `json:"time"`    // RFC 3339 with nanoseconds, UTC
	Level   string `json:"level"`   // "info", "warn" or "error"
	Event   string `json:"event"`   // "message", "progress", "image", "blob" or "exit"
	Program string `json:"program"` // "bundle" or "unbundle"
	Command string `json:"command,omitempty"`
	Msg     string `json:"msg,omitempty"` // message, exit: the text a person would read
	// Phase: progress: what moves ("pull", "push", "verify"); image: "resolved", "failed"
	// (create), "pushed", "failed" (push); blob: "pulled", "cached", "kept" (create),
	// "uploaded", "mounted", "skipped" (push).
	Phase      string `json:"phase,omitempty"`
	Container  string `json:"container,omitempty"`  // image: component.container
	Image      string `json:"image,omitempty"`      // image: the reference
	Repository string `json:"repository,omitempty"` // blob: where it was pulled from or pushed to
	Digest     string `json:"digest,omitempty"`     // image, blob
	Size       int64  `json:"size,omitempty"`       // blob: bytes
	// Progress: bytes done and expected, and the mean rate since the start.
	DoneBytes      *int64 `json:"done_bytes,omitempty"`
	TotalBytes     *int64 `json:"total_bytes,omitempty"`
	BytesPerSecond *int64 `json:"bytes_per_second,omitempty"`
	Error          string `json:"error,omitempty"`     // image failed
	ExitCode       int    `json:"exit_code,omitempty"` // exit: the command's exit code
}
