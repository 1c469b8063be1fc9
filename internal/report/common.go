package report

// Failure is a container (component.container) that failed, and why.
type Failure struct {
	Container string `json:"container"`
	Error     string `json:"error"`
}

// Problem is a cause that stops a push before it starts (a missing Harbor project, a
// refused media type), its fix, and the destination repositories it blocks.
type Problem struct {
	Cause        string   `json:"cause"`
	Fix          string   `json:"fix"`
	Repositories []string `json:"repositories"`
}

// Image is a container and the image it names, with the digest carried or served.
type Image struct {
	Container string `json:"container"` // component.container
	Image     string `json:"image"`     // SERVER/PATH:TAG (the source for create, the destination for push)
	Digest    string `json:"digest"`
}

// Count is a number of blobs and their bytes.
type Count struct {
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// File is a plain file a bundle carries (bundle create --file, --with-unbundle).
type File struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Base is what a delta bundle was made against.
type Base struct {
	Kind   string `json:"kind"` // "bundle" or "inventory"
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// Part is one part of a bundle in parts (data or parity), and its state.
type Part struct {
	Name    string `json:"name"`
	Parity  bool   `json:"parity"`
	SHA256  string `json:"sha256,omitempty"`  // create: its sum
	Problem string `json:"problem,omitempty"` // verify: what is wrong with it; absent when fine
}
