package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// ServeHTTP answers the read side of the OCI distribution API:
//
//	GET  /v2/                                  the API root
//	GET  /v2/_catalog?n=&last=                 repositories (paginated with a Link header)
//	GET  /v2/<name>/tags/list?n=&last=         tags
//	GET  /v2/<name>/manifests/<tag|digest>     a manifest, with its media type (and HEAD)
//	GET  /v2/<name>/blobs/<digest>             a blob, Range honoured (and HEAD)
//	GET  /v2/<name>/referrers/<digest>         OCI 1.1 referrers (?artifactType= filters)
//
// Anything else under /v2/ is 404, or 405 for a write: the registry is read-only.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	w = &counting{ResponseWriter: w, n: &r.bytesSent}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if !strings.HasPrefix(req.URL.Path, "/v2/") {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "not an OCI distribution API path")
		return
	}
	if !r.authorized(w, req) {
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this registry is read-only (unbundle serve): push to a registry")
		return
	}
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	switch {
	case path == "":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{}")
		return
	case path == "_catalog":
		r.list(w, req, "repositories", r.names)
		return
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/list"} {
		i := strings.LastIndex(path, kind)
		if i <= 0 || (kind == "/tags/list" && i+len(kind) != len(path)) {
			continue
		}
		name, ref := path[:i], path[i+len(kind):]
		rp, ok := r.repos[name]
		if !ok {
			writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository "+name+" is not served")
			return
		}
		if kind != "/tags/list" && kind != "/manifests/" && verify.Check(ref) != nil {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("%q is not a sha256 digest", ref))
			return
		}
		switch kind {
		case "/manifests/":
			r.serveManifest(w, req, name, rp, ref)
		case "/blobs/":
			r.serveBlob(w, req, name, rp, ref)
		case "/referrers/":
			r.serveReferrers(w, req, rp, ref)
		default:
			tags := make([]string, 0, len(rp.tags))
			for t := range rp.tags {
				tags = append(tags, t)
			}
			sort.Strings(tags)
			r.list(w, req, "tags", tags, name)
		}
		return
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", "unknown path")
}

// serveManifest answers a manifest by tag or digest, from memory, as the bundle has it.
func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, name string, rp *repo, ref string) {
	digest := ref
	if !strings.Contains(ref, ":") {
		d, ok := rp.tags[ref]
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "tag "+ref+" is not in repository "+name)
			return
		}
		digest = d
	} else if verify.Check(ref) != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("%q is not a sha256 digest", ref))
		return
	}
	m, ok := rp.manifests[digest]
	if !ok {
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest "+digest+" is not in repository "+name)
		return
	}
	h := w.Header()
	h.Set("Content-Type", m.mediaType)
	h.Set("Docker-Content-Digest", digest)
	h.Set("Etag", `"`+digest+`"`)
	h.Set("Content-Length", strconv.Itoa(len(m.raw)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		w.Write(m.raw)
	}
}

// serveReferrers answers the referrers API: an OCI index of the manifests of rp whose subject
// is digest, filtered by artifactType when asked (and OCI-Filters-Applied says so).
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, rp *repo, digest string) {
	descs := rp.referrers[digest]
	if at := req.URL.Query().Get("artifactType"); at != "" {
		var kept []manifest.Descriptor
		for _, d := range descs {
			if d.ArtifactType == at {
				kept = append(kept, d)
			}
		}
		descs = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	raw := manifest.ReferrersIndex(descs)
	w.Header().Set("Content-Type", manifest.OCIIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		w.Write(raw)
	}
}

// list answers a catalog or tags list: sorted, from after ?last=, at most ?n= (with a Link
// header to the next page when cut).
func (r *Registry) list(w http.ResponseWriter, req *http.Request, key string, all []string, name ...string) {
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		all = all[sort.SearchStrings(all, last):]
		if len(all) > 0 && all[0] == last {
			all = all[1:]
		}
	}
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "n must be a number >= 0")
			return
		}
		if n < len(all) {
			all = all[:n]
			if n > 0 {
				next := url.Values{"n": {s}, "last": {all[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, req.URL.Path, next.Encode()))
			}
		}
	}
	body := map[string]any{key: append([]string{}, all...)}
	if len(name) > 0 {
		body["name"] = name[0]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// writeError answers an error in the distribution API's form.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.Header().Del("Docker-Content-Digest")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}

// counting counts the body bytes written.
type counting struct {
	http.ResponseWriter
	n interface{ Add(int64) int64 }
}

func (c *counting) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (c *counting) Unwrap() http.ResponseWriter { return c.ResponseWriter }
