package testregistry

import "strings"

// resource is what a /v2/ path names inside a repository.
type resource int

const (
	resOther    resource = iota // the ping, the catalog, tags, referrers, anything else
	resManifest                 // /v2/<name>/manifests/<reference>
	resBlob                     // /v2/<name>/blobs/<digest>
	resUpload                   // /v2/<name>/blobs/uploads/...
)

var routeMarkers = [...]string{"/manifests/", "/blobs/", "/tags/", "/referrers/"}

// route returns the repository a registry API path names ("" for none, as for /v2/ and
// /v2/_catalog) and what it names there. Like Distribution's router, it takes the last marker
// in the path, since a repository name may contain "blobs" or "manifests" as a component.
func route(path string) (repo string, res resource) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", resOther
	}
	at, marker := -1, ""
	for _, m := range routeMarkers {
		if i := strings.LastIndex(rest, m); i > at {
			at, marker = i, m
		}
	}
	if at <= 0 {
		return "", resOther
	}
	repo, tail := rest[:at], rest[at+len(marker):]
	switch {
	case marker == "/manifests/":
		return repo, resManifest
	case marker == "/blobs/" && (tail == "uploads" || strings.HasPrefix(tail, "uploads/")):
		return repo, resUpload
	case marker == "/blobs/":
		return repo, resBlob
	}
	return repo, resOther
}
