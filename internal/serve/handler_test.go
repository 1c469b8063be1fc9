package serve

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// fixture is a registry of two repositories: library/a (tags 1 and 2, one manifest with a
// config and a layer a little over smallBlob, streamed) and library/b (tag 1, a manifest with
// the same config and a small layer).
type fixture struct {
	r                  *Registry
	b                  *archive.Bundle
	path               string
	ma, mb             testbundle.Blob // the manifests
	config, big, small testbundle.Blob
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{}
	data := make([]byte, smallBlob+40000) // over smallBlob: streamed
	rand.Read(data)
	f.config = testbundle.Blob{Data: []byte(`{"architecture":"amd64","os":"linux"}`), MediaType: manifest.OCIConfig, Kind: archive.KindConfig}
	f.big = testbundle.Blob{Data: data, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Kind: archive.KindLayer}
	f.small = testbundle.Blob{Data: []byte("a small layer"), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	man := func(layer testbundle.Blob) testbundle.Blob {
		cd, ld := f.config.Descriptor(), layer.Descriptor()
		return testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}}),
			MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	}
	f.ma, f.mb = man(f.big), man(f.small)
	images := []testbundle.Image{
		{Component: "a", Container: "one", Server: "example.org", Path: "library/a", Tag: "1", Root: f.ma},
		{Component: "a", Container: "two", Server: "example.org", Path: "library/a", Tag: "2", Root: f.ma},
		{Component: "b", Container: "main", Server: "example.org", Path: "library/b", Tag: "1", Root: f.mb},
	}
	path, err := testbundle.Write(t.TempDir(), "b", images, []testbundle.Blob{f.ma, f.mb, f.config, f.big, f.small})
	if err != nil {
		t.Fatal(err)
	}
	f.path = path
	if f.b, err = trust.Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.b.Close() })
	if f.r, err = New(t.Context(), []*archive.Bundle{f.b}, opts...); err != nil {
		t.Fatal(err)
	}
	return f
}

// do answers one request.
func (f *fixture) do(method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.r.ServeHTTP(w, req)
	return w
}

// errorCode is the code of a distribution API error answer.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
		t.Fatalf("not an error answer: %q (%v)", w.Body.String(), err)
	}
	return body.Errors[0].Code
}

// TestRoutes: every path answers as the distribution API says: the root, what is not served
// (404 with the API's code), what is not a digest (400), and every write (405: read-only).
func TestRoutes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/v2/", 200, ""},
		{"HEAD", "/v2/", 200, ""},
		{"GET", "/", 404, "NOT_FOUND"},
		{"GET", "/v1/_catalog", 404, "NOT_FOUND"},
		{"GET", "/v2/library/a/unknown/thing", 404, "NOT_FOUND"},
		{"GET", "/v2/library/c/manifests/1", 404, "NAME_UNKNOWN"},
		{"GET", "/v2/library/a/manifests/3", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/a/manifests/sha256:abc", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/a/manifests/" + f.mb.Digest(), 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/a/blobs/latest", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/a/blobs/" + f.small.Digest(), 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/library/a/referrers/notadigest", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/a/tags/list/more", 404, "NOT_FOUND"},
		{"PUT", "/v2/library/a/manifests/1", 405, "UNSUPPORTED"},
		{"DELETE", "/v2/library/a/blobs/" + f.big.Digest(), 405, "UNSUPPORTED"},
		{"POST", "/v2/library/a/blobs/uploads/", 405, "UNSUPPORTED"},
		{"PATCH", "/v2/", 405, "UNSUPPORTED"},
	} {
		w := f.do(tc.method, tc.target)
		if w.Code != tc.status || w.Header().Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, w.Code, tc.status)
			continue
		}
		if tc.code != "" {
			if got := errorCode(t, w); got != tc.code {
				t.Errorf("%s %s: code %s, want %s", tc.method, tc.target, got, tc.code)
			}
		}
		if tc.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, w.Header().Get("Allow"))
		}
	}
	if w := f.do("GET", "/v2/"); w.Body.String() != "{}" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("the API root: %q %q", w.Body.String(), w.Header().Get("Content-Type"))
	}
}

// TestManifests: a manifest by tag or digest is its exact bytes, with its media type, digest
// and length; HEAD says the same without the body.
func TestManifests(t *testing.T) {
	f := newFixture(t)
	for _, ref := range []string{"1", "2", f.ma.Digest()} {
		for _, method := range []string{"GET", "HEAD"} {
			w := f.do(method, "/v2/library/a/manifests/"+ref)
			h := w.Header()
			if w.Code != 200 || h.Get("Content-Type") != manifest.OCIManifest || h.Get("Docker-Content-Digest") != f.ma.Digest() ||
				h.Get("Etag") != `"`+f.ma.Digest()+`"` || h.Get("Content-Length") != strconv.Itoa(len(f.ma.Data)) {
				t.Fatalf("%s %s: %d %v", method, ref, w.Code, h)
			}
			if want := map[string][]byte{"GET": f.ma.Data, "HEAD": nil}[method]; !bytes.Equal(w.Body.Bytes(), want) {
				t.Fatalf("%s %s: body of %d bytes", method, ref, w.Body.Len())
			}
		}
	}
	if w := f.do("GET", "/v2/library/b/manifests/1"); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), f.mb.Data) {
		t.Fatalf("library/b:1: %d", w.Code)
	}
}

// TestLists: the catalog and the tags lists are sorted, paginated by n and last, with a Link
// to the next page when cut; a bad n is refused.
func TestLists(t *testing.T) {
	f := newFixture(t)
	list := func(target string) (map[string]any, *httptest.ResponseRecorder) {
		t.Helper()
		w := f.do("GET", target)
		var body map[string]any
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
		}
		return body, w
	}
	for _, tc := range []struct {
		target, key, want, link string
	}{
		{"/v2/_catalog", "repositories", "library/a library/b", ""},
		{"/v2/_catalog?n=1", "repositories", "library/a", `</v2/_catalog?last=library%2Fa&n=1>; rel="next"`},
		{"/v2/_catalog?n=1&last=library/a", "repositories", "library/b", ""},
		{"/v2/_catalog?last=library/a", "repositories", "library/b", ""},
		{"/v2/_catalog?last=library/aa", "repositories", "library/b", ""},
		{"/v2/_catalog?last=z", "repositories", "", ""},
		{"/v2/_catalog?n=0", "repositories", "", ""},
		{"/v2/_catalog?n=5", "repositories", "library/a library/b", ""},
		{"/v2/library/a/tags/list", "tags", "1 2", ""},
		{"/v2/library/a/tags/list?n=1", "tags", "1", `</v2/library/a/tags/list?last=1&n=1>; rel="next"`},
		{"/v2/library/b/tags/list", "tags", "1", ""},
	} {
		body, w := list(tc.target)
		if w.Code != 200 {
			t.Fatalf("%s: %d", tc.target, w.Code)
		}
		var got []string
		for _, v := range body[tc.key].([]any) {
			got = append(got, v.(string))
		}
		if strings.Join(got, " ") != tc.want || w.Header().Get("Link") != tc.link {
			t.Errorf("%s: %v, Link %q; want %q, %q", tc.target, got, w.Header().Get("Link"), tc.want, tc.link)
		}
		if tc.key == "tags" && body["name"] != strings.TrimSuffix(strings.TrimPrefix(strings.Split(tc.target, "?")[0], "/v2/"), "/tags/list") {
			t.Errorf("%s: name %v", tc.target, body["name"])
		}
	}
	for _, n := range []string{"-1", "x", "1.5"} {
		if _, w := list("/v2/_catalog?n=" + n); w.Code != 400 || errorCode(t, w) != "PAGINATION_NUMBER_INVALID" {
			t.Errorf("n=%s: %d", n, w.Code)
		}
	}
}

// TestReferrersEmpty: the referrers of a manifest with none are an empty OCI index; asked with
// an artifactType, the answer says the filter was applied.
func TestReferrersEmpty(t *testing.T) {
	f := newFixture(t)
	for _, q := range []string{"", "?artifactType=application/vnd.dev.cosign.simplesigning.v1%2Bjson"} {
		w := f.do("GET", "/v2/library/a/referrers/"+f.ma.Digest()+q)
		var idx manifest.Doc
		if w.Code != 200 || w.Header().Get("Content-Type") != manifest.OCIIndex || json.Unmarshal(w.Body.Bytes(), &idx) != nil ||
			len(idx.Manifests) != 0 || idx.MediaType != manifest.OCIIndex {
			t.Fatalf("referrers%s: %d %q", q, w.Code, w.Body.String())
		}
		if applied := w.Header().Get("OCI-Filters-Applied"); (q != "") != (applied == "artifactType") {
			t.Fatalf("referrers%s: OCI-Filters-Applied %q", q, applied)
		}
	}
}

// TestServedCounts: every request is counted, and every byte of the bodies sent.
func TestServedCounts(t *testing.T) {
	f := newFixture(t)
	var sent int
	for _, target := range []string{"/v2/", "/v2/library/a/manifests/1", "/nothing"} {
		sent += f.do("GET", target).Body.Len()
	}
	if req, n := f.r.Served(); req != 3 || n != int64(sent) {
		t.Fatalf("Served = %d requests, %d bytes; want 3, %d", req, n, sent)
	}
}
