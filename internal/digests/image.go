package digests

import "strings"

// Image is one container's image as an images_digests.yml names it.
// Values are kept exactly as written in the file (a tag "1.10" stays "1.10").
type Image struct {
	Component string // e.g. "adminbot"
	Container string // e.g. "haproxy"
	Server    string // host[:port], e.g. "docker.io"
	Path      string // repository path without host, e.g. "library/haproxy"
	Tag       string // may be empty when Digest is set
	Digest    string // "sha256:<64 hex>", or empty when the list gives none
	Line      int    // 1-based line of the container key in the source file; 0 when not parsed
}

// Key is "component.container", the name by which users select an entry.
func (i Image) Key() string { return i.Component + "." + i.Container }

// Repository is "server/path".
func (i Image) Repository() string { return i.Server + "/" + i.Path }

// Ref is the source reference: "server/path:tag", or "server/path@digest" when there is no tag.
func (i Image) Ref() string {
	if i.Tag == "" {
		return i.Repository() + "@" + i.Digest
	}
	return i.Repository() + ":" + i.Tag
}

// SameSource reports whether two entries name the same upstream image (server, path, tag and digest),
// so that it is pulled, stored and pushed once.
func (i Image) SameSource(o Image) bool {
	return strings.EqualFold(i.Server, o.Server) && i.Path == o.Path && i.Tag == o.Tag && i.Digest == o.Digest
}
