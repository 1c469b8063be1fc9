package digests

import (
	"strings"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// Image is one container's image as an images_digests.yml names it: its Entry (Key,
// Repository) and the digest the list gives. Values are kept exactly as written in the file
// (a tag "1.10" stays "1.10").
type Image struct {
	imageref.Entry
	Digest string // "sha256:<64 hex>", or empty when the list gives none
	Line   int    // 1-based line of the container key in the source file; 0 when not parsed
}

// Ref is the source reference: "server/path:tag", or "server/path@digest" when there is no tag.
func (i Image) Ref() string { return i.RefAt(i.Digest) }

// SameSource reports whether two entries name the same upstream image (server, path, tag and digest),
// so that it is pulled, stored and pushed once.
func (i Image) SameSource(o Image) bool {
	return strings.EqualFold(i.Server, o.Server) && i.Path == o.Path && i.Tag == o.Tag && i.Digest == o.Digest
}
