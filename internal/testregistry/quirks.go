package testregistry

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Quirks reproduce, in front of Distribution, documented behaviours of the registries sites run
// (../shared/design/REGISTRIES.md gives the sources); each field is one behaviour, off at its
// zero value.
type Quirks struct {
	// HeadUnknownRepo answers HEAD of a blob or manifest in a repository that holds nothing
	// yet with this status (401 or 403) instead of 404: Harbor 2.13, GitLab, Artifactory
	// (harbor #22363; go-containerregistry's symptom in zarf #1869; earthly #1017).
	HeadUnknownRepo int
	// BodyLimit refuses a request whose body is longer with 413 and nginx's HTML page: nginx's
	// client_max_body_size (1m by default; Harbor sets 0), Cloudflare's 100 MB (harbor #3270,
	// #15823; regclient #1028).
	BodyLimit int64
	// HeaderLimit refuses a request whose header lines, with the request line, are longer with
	// 400 "Request Header Or Cookie Too Large": nginx's large_client_header_buffers, 8 KiB by
	// default, in front of Harbor (harbor #15897).
	HeaderLimit int
	// Projects, when set, are the Harbor projects that exist: a request in a repository of
	// another project is refused as Harbor refuses it, 401 with "project NAME not found" in
	// the body of a GET and a generic refusal otherwise (harbor #6892, #17097).
	Projects []string
	// NoMount answers a cross-repository mount with 202 and a new upload session: ECR without
	// blob mounting (opt-in since 2026-01), and any registry that declines a mount
	// (containers-roadmap #853, #2860).
	NoMount bool
	// Repositories, when set, are the repositories that exist: an upload into another gets 404
	// NAME_UNKNOWN, as ECR without create-on-push answers (containers-roadmap #853).
	Repositories []string
	// RefuseDocker refuses Docker schema 2 manifests and manifest lists with 400
	// MANIFEST_INVALID: Zot without http.compat ["docker2s2"] (zot #3104).
	RefuseDocker bool
	// IgnoreRange drops the Range header of every GET before the registry sees it, so that a
	// ranged blob GET gets the whole blob with 200: a registry, proxy or storage backend that
	// does not serve ranges (RFC 9110 lets a server ignore Range). Not counted as refused.
	IgnoreRange bool

	refused atomic.Int64
}

// Refused is the number of requests the quirks answered instead of the registry.
func (q *Quirks) Refused() int64 { return q.refused.Load() }

// WithQuirks puts q in front of a Distribution registry (Start). Default: none.
func WithQuirks(q *Quirks) Option {
	return func(c *config) { c.quirks = q }
}

func (q *Quirks) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q.IgnoreRange && r.Header.Get("Range") != "" {
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		if !q.allow(w, r, h) {
			q.refused.Add(1)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// allow answers r itself, and reports false, when a quirk applies.
func (q *Quirks) allow(w http.ResponseWriter, r *http.Request, h http.Handler) bool {
	if q.HeaderLimit > 0 && headerSize(r) > q.HeaderLimit {
		nginxPage(w, http.StatusBadRequest, "400 Request Header Or Cookie Too Large")
		return false
	}
	if q.BodyLimit > 0 && r.ContentLength > q.BodyLimit {
		// nginx answers before the body and then reads it away (lingering_close), so that the
		// client, still sending, gets the answer rather than a reset.
		io.Copy(io.Discard, r.Body)
		nginxPage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return false
	}
	repo, res := route(r.URL.Path)
	if repo == "" {
		return true
	}
	if project, _, _ := strings.Cut(repo, "/"); len(q.Projects) > 0 && !contains(q.Projects, project) {
		if r.Method == http.MethodGet {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "project "+project+" not found")
		} else if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusUnauthorized)
		} else {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("unauthorized to access repository: %s, action: push", repo))
		}
		return false
	}
	if len(q.Repositories) > 0 && !contains(q.Repositories, repo) {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf("The repository with name '%s' does not exist in the registry", repo))
		return false
	}
	switch {
	case q.HeadUnknownRepo != 0 && r.Method == http.MethodHead && (res == resBlob || res == resManifest) && !q.holds(h, r, repo):
		w.WriteHeader(q.HeadUnknownRepo)
		return false
	case q.NoMount && res == resUpload && r.Method == http.MethodPost && r.URL.Query().Get("mount") != "":
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = "" // an upload session instead
		h.ServeHTTP(w, r2)
		return false
	case q.RefuseDocker && res == resManifest && r.Method == http.MethodPut && strings.HasPrefix(mediaType(r.Header.Get("Content-Type")), "application/vnd.docker.distribution.manifest."):
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid: unsupported manifest media type")
		return false
	}
	return true
}

// holds reports whether the registry has anything in repo, by asking it for its tags with the
// request's own credentials.
func (q *Quirks) holds(h http.Handler, r *http.Request, repo string) bool {
	probe := httptest.NewRequestWithContext(r.Context(), http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	probe.Header = r.Header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, probe)
	if rec.Code != http.StatusOK {
		return false
	}
	return !strings.Contains(rec.Body.String(), `"tags":null`) && !strings.Contains(rec.Body.String(), `"tags":[]`)
}

// headerSize is the size of r's request line and header lines, as nginx counts them.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.URL.RequestURI()) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// nginxPage answers as nginx does: an HTML page.
func nginxPage(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, "<html>\r\n<head><title>"+title+"</title></head>\r\n<body>\r\n<center><h1>"+title+"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
