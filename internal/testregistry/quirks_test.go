package testregistry_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushImage pushes a small random image to r as ref (repo:tag), of Docker's media types or,
// with oci, of OCI's.
func pushImage(t *testing.T, r *testregistry.Registry, ref string, oci bool) error {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if oci {
		layer, err := random.Layer(512, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		if img, err = mutate.AppendLayers(base, layer); err != nil {
			t.Fatal(err)
		}
	}
	return remote.Write(parseRef(t, r.Host+"/"+ref), img, remoteOptions(r)...)
}

// seed puts in repo, with plain requests (no HEAD, which a quirk may answer), an OCI image
// manifest tagged tag whose config is "{}" and which has no layers.
func seed(t *testing.T, r *testregistry.Registry, repo, tag string) {
	t.Helper()
	const cfg, cfgDigest = "{}", "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	if code, err := putBlob(t, r, repo, []byte(cfg), cfgDigest, nil); err != nil || code != http.StatusCreated {
		t.Fatalf("config: %d, %v", code, err)
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfgDigest + `","size":2},"layers":[]}`
	c := &http.Client{Transport: r.Transport()}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, baseURL(r)+"/v2/"+repo+"/manifests/"+tag, strings.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("manifest: %s", resp.Status)
	}
}

// TestQuirkHeadUnknownRepo: a HEAD in a repository that holds nothing gets the quirk's status
// (Harbor's 401/403), one in a repository with tags gets the registry's own 404; a GET is not
// touched.
func TestQuirkHeadUnknownRepo(t *testing.T) {
	q := &testregistry.Quirks{HeadUnknownRepo: http.StatusForbidden}
	r := testregistry.StartT(t, testregistry.WithQuirks(q))
	seed(t, r, "full/app", "v1")
	missing := "sha256:" + strings.Repeat("0", 64)
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodHead, "/v2/empty/app/blobs/" + missing, http.StatusForbidden},
		{http.MethodHead, "/v2/empty/app/manifests/v1", http.StatusForbidden},
		{http.MethodHead, "/v2/full/app/blobs/" + missing, http.StatusNotFound},
		{http.MethodHead, "/v2/full/app/manifests/v2", http.StatusNotFound},
		{http.MethodGet, "/v2/empty/app/manifests/v1", http.StatusNotFound},
	}
	for _, c := range cases {
		if got := status(t, r, c.method, c.path); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if got := q.Refused(); got != 2 {
		t.Errorf("Refused() = %d, want 2", got)
	}
}

// TestQuirkLimits: nginx's limits: a body over BodyLimit gets 413 with nginx's page, headers
// over HeaderLimit get 400; requests under both go through.
func TestQuirkLimits(t *testing.T) {
	q := &testregistry.Quirks{BodyLimit: 1000, HeaderLimit: 2048}
	r := testregistry.StartT(t, testregistry.WithQuirks(q))
	blob, digest := newBlob(t)
	code, err := putBlob(t, r, "ess/app", blob, digest, nil)
	if err != nil || code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte PUT: %d, %v; want 413", len(blob), code, err)
	}
	resp, body, err := do(t, nil, r, http.MethodPut, "/v2/ess/app/manifests/v1", bytes.Repeat([]byte(" "), 1001))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "text/html" ||
		!strings.Contains(string(body), "<center>nginx</center>") || !strings.Contains(string(body), "413 Request Entity Too Large") {
		t.Fatalf("a 1001-byte manifest: %v, %v\n%s", resp, err, body)
	}
	small := []byte("hello")
	if code, err := putBlob(t, r, "ess/app", small, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", nil); err != nil || code != http.StatusCreated {
		t.Fatalf("a 5-byte blob: %d, %v", code, err)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, baseURL(r)+"/v2/", nil)
	req.Header.Set("Cookie", strings.Repeat("x", 2048))
	resp, err = (&http.Client{Transport: r.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("2 KiB of cookie: %d, want 400", resp.StatusCode)
	}
	if got := status(t, r, http.MethodGet, "/v2/"); got != http.StatusOK {
		t.Errorf("a plain GET /v2/: %d", got)
	}
	if q.Refused() != 3 {
		t.Errorf("Refused() = %d, want 3", q.Refused())
	}
}

// TestQuirkProjects: a repository outside Harbor's projects is refused as Harbor refuses it:
// a GET says the project is not found, a HEAD has no body, a push is unauthorized.
func TestQuirkProjects(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{Projects: []string{"ess"}}))
	resp, body, err := do(t, nil, r, http.MethodGet, "/v2/other/app/tags/list", nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "project other not found") {
		t.Fatalf("GET: %v %v %s", resp, err, body)
	}
	resp, body, err = do(t, nil, r, http.MethodHead, "/v2/other/app/manifests/v1", nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || len(body) != 0 {
		t.Fatalf("HEAD: %v %v %s", resp, err, body)
	}
	resp, body, err = do(t, nil, r, http.MethodPost, "/v2/other/app/blobs/uploads/", nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "repository: other/app, action: push") {
		t.Fatalf("POST: %v %v %s", resp, err, body)
	}
	if err := pushImage(t, r, "ess/app:v1", false); err != nil {
		t.Fatalf("a push into project ess: %v", err)
	}
	if err := pushImage(t, r, "app:v1", false); err == nil {
		t.Fatal("a push into project app (the repository's one element) went through")
	}
}

// TestQuirkRepositories: an upload into a repository that does not exist gets NAME_UNKNOWN, as
// from ECR without create-on-push.
func TestQuirkRepositories(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{Repositories: []string{"ess/a"}}))
	resp, body, err := do(t, nil, r, http.MethodPost, "/v2/ess/b/blobs/uploads/", nil)
	if err != nil || resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "NAME_UNKNOWN") || !strings.Contains(string(body), "'ess/b'") {
		t.Fatalf("ess/b: %v %v %s", resp, err, body)
	}
	if got := status(t, r, http.MethodPost, "/v2/ess/a/blobs/uploads/"); got != http.StatusAccepted {
		t.Fatalf("ess/a: %d", got)
	}
	if got := status(t, r, http.MethodGet, "/v2/"); got != http.StatusOK {
		t.Fatalf("the ping names no repository: %d", got)
	}
}

// TestQuirkNoMount: with NoMount, a cross-repository mount opens an upload session (202)
// where Distribution itself mounts (201).
func TestQuirkNoMount(t *testing.T) {
	for _, noMount := range []bool{false, true} {
		r := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{NoMount: noMount}))
		blob, digest := newBlob(t)
		if code, err := putBlob(t, r, "ess/a", blob, digest, nil); err != nil || code != http.StatusCreated {
			t.Fatalf("upload: %d, %v", code, err)
		}
		resp, _, err := do(t, nil, r, http.MethodPost, "/v2/ess/b/blobs/uploads/?mount="+digest+"&from=ess/a", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusCreated
		if noMount {
			want = http.StatusAccepted
		}
		if resp.StatusCode != want {
			t.Errorf("NoMount %v: mount answered %d, want %d", noMount, resp.StatusCode, want)
		}
	}
}

// TestQuirkRefuseDocker: Docker schema 2 manifests are refused as Zot refuses them; OCI ones
// are taken.
func TestQuirkRefuseDocker(t *testing.T) {
	q := &testregistry.Quirks{RefuseDocker: true}
	r := testregistry.StartT(t, testregistry.WithQuirks(q))
	if err := pushImage(t, r, "ess/docker:v1", false); err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") {
		t.Fatalf("a Docker image: %v, want MANIFEST_INVALID", err)
	}
	if err := pushImage(t, r, "ess/oci:v1", true); err != nil {
		t.Fatalf("an OCI image: %v", err)
	}
	if q.Refused() == 0 {
		t.Error("Refused() = 0")
	}
}
