package imageref

// Entry is one image of the pipeline as the image list names it: who uses it
// (Component.Container) and where it comes from (Server/Path:Tag). digests.Image (an
// images_digests.yml entry) and archive.Image and archive.Missing (bundle.json's records)
// embed it, so an image crosses from one to the other in one assignment and its names are
// written once, here. The json tags are bundle.json's: encoding/json flattens an embedded
// struct, so the records read and write as they did before it was one.
type Entry struct {
	Component string `json:"component"`     // e.g. "adminbot"
	Container string `json:"container"`     // e.g. "haproxy"
	Server    string `json:"server"`        // host[:port], e.g. "docker.io"
	Path      string `json:"path"`          // repository path without host, e.g. "library/haproxy"
	Tag       string `json:"tag,omitempty"` // may be empty when a digest names the image
}

// Key is "component.container", the name by which users select an entry.
func (e Entry) Key() string { return e.Component + "." + e.Container }

// Repository is "server/path".
func (e Entry) Repository() string { return e.Server + "/" + e.Path }

// RefAt is the source reference "server/path:tag", or "server/path@digest" when there is no
// tag: digest is the one the caller names the image by (the list's, or the one carried).
func (e Entry) RefAt(digest string) string {
	if e.Tag == "" {
		return e.Repository() + "@" + digest
	}
	return e.Repository() + ":" + e.Tag
}
