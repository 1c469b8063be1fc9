package oci

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushSubject pushes a small random image to reg as repo:tag and returns its descriptor.
func pushSubject(t *testing.T, reg *testregistry.Registry, repo, tag string) v1.Descriptor {
	t.Helper()
	img := must(random.Image(64, 1))
	if err := remote.Write(must(name.ParseReference(reg.Host+"/"+repo+":"+tag)), img, remoteOptions(reg)...); err != nil {
		t.Fatal(err)
	}
	return *must(partial.Descriptor(img))
}

// pushReferrer pushes to reg's repo an OCI artifact of artifactType whose subject is subject,
// and returns its digest. go-containerregistry's remote updates the referrers tag scheme's
// index where the registry has no referrers API, as cosign and oras do.
func pushReferrer(t *testing.T, reg *testregistry.Registry, repo string, subject v1.Descriptor, artifactType string) string {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.MediaType(artifactType))
	img = mutate.Subject(img, subject).(v1.Image)
	d := must(img.Digest()).String()
	if err := remote.Write(must(name.ParseReference(reg.Host+"/"+repo+"@"+d)), img, remoteOptions(reg)...); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReferrers: what refers to an image comes back from the referrers API where the registry
// has one (go-containerregistry's registry), and from the referrers tag scheme's index where
// it has none (Distribution); an image nothing refers to has none, without an error.
func TestReferrers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *testregistry.Registry
	}{
		{"referrers API", func(t *testing.T) *testregistry.Registry {
			reg, err := testregistry.StartGGCR(testregistry.WithReferrersAPI())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = reg.Close() })
			return reg
		}},
		{"referrers tag scheme", func(t *testing.T) *testregistry.Registry { return testregistry.StartT(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := tc.start(t)
			subject := pushSubject(t, reg, "ess/app", "v1")
			want := []string{
				pushReferrer(t, reg, "ess/app", subject, "application/spdx+json"),
				pushReferrer(t, reg, "ess/app", subject, "application/vnd.dev.cosign.simplesigning.v1+json"),
			}
			lonely := pushSubject(t, reg, "ess/app", "v2")
			c := must(New())
			got, err := c.Referrers(t.Context(), reg.Host+"/ess/app", subject.Digest.String())
			if err != nil {
				t.Fatal(err)
			}
			var digests []string
			for _, d := range got {
				digests = append(digests, d.Digest)
				if d.MediaType != manifest.OCIManifest || d.Size <= 0 {
					t.Errorf("referrer %s: media type %q, size %d", d.Digest, d.MediaType, d.Size)
				}
			}
			slices.Sort(digests)
			slices.Sort(want)
			if !slices.Equal(digests, want) {
				t.Fatalf("referrers %v, want %v", digests, want)
			}
			none, err := c.Referrers(t.Context(), reg.Host+"/ess/app", lonely.Digest.String())
			if err != nil || len(none) != 0 {
				t.Fatalf("an image without referrers: %v, %v", none, err)
			}
		})
	}
}

// TestReferrersHostile: what a registry, or a proxy in front of it, answers instead of a
// referrers list: a page that is not an index (no API: the tag scheme is asked), an index
// naming digests that are not digests, something that is not JSON, more than a manifest may
// be, a server error. Each is told apart, and an error names the repository and the subject.
func TestReferrersHostile(t *testing.T) {
	subject := verify.Digest([]byte("subject"))
	referrer := verify.Digest([]byte("referrer"))
	index := func(digest string) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":10}]}`,
			manifest.OCIIndex, manifest.OCIManifest, digest)
	}
	type answer struct {
		status      int
		contentType string
		body        string
	}
	for _, tc := range []struct {
		name     string
		api, tag answer // the referrers API's answer, the tag scheme's
		want     []string
		err      error
	}{
		{"API", answer{200, manifest.OCIIndex, index(referrer)}, answer{404, "", ""}, []string{referrer}, nil},
		{"no API, a tag", answer{404, "", ""}, answer{200, manifest.OCIIndex, index(referrer)}, []string{referrer}, nil},
		{"no API, no tag", answer{404, "", ""}, answer{404, "", ""}, nil, nil},
		{"405", answer{405, "", ""}, answer{200, manifest.OCIIndex, index(referrer)}, []string{referrer}, nil},
		{"406", answer{406, "", ""}, answer{200, manifest.OCIIndex, index(referrer)}, []string{referrer}, nil},
		{"a proxy's page", answer{200, "text/html", "<html>welcome</html>"}, answer{404, "", ""}, nil, nil},
		{"a bad digest", answer{200, manifest.OCIIndex, index("sha256:../../etc/passwd")}, answer{404, "", ""}, nil, manifest.ErrBad},
		{"a bad digest by tag", answer{404, "", ""}, answer{200, manifest.OCIIndex, index("md5:00")}, nil, manifest.ErrBad},
		{"not JSON", answer{200, manifest.OCIIndex, "manifests: []"}, answer{404, "", ""}, nil, manifest.ErrBad},
		{"too large", answer{200, manifest.OCIIndex, strings.Repeat(" ", manifest.MaxBytes+1)}, answer{404, "", ""}, nil, manifest.ErrTooLarge},
		{"server error", answer{500, "", ""}, answer{200, manifest.OCIIndex, index(referrer)}, nil, errStatus500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a := answer{404, "", ""}
				switch r.URL.Path {
				case "/v2/ess/app/referrers/" + subject:
					a = tc.api
				case "/v2/ess/app/manifests/" + manifest.FallbackTag(subject):
					a = tc.tag
				}
				if a.contentType != "" {
					w.Header().Set("Content-Type", a.contentType)
				}
				w.WriteHeader(a.status)
				fmt.Fprint(w, a.body)
			}))
			defer srv.Close()
			c := must(New(WithRetry(1, time.Second)))
			host := srv.Listener.Addr().String()
			got, err := c.Referrers(t.Context(), host+"/ess/app", subject)
			if tc.err != nil {
				if !errIs(err, tc.err) || !strings.Contains(err.Error(), host+"/ess/app@"+subject) {
					t.Fatalf("err = %v, want %v, naming the repository and subject", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var digests []string
			for _, d := range got {
				digests = append(digests, d.Digest)
			}
			if !slices.Equal(digests, tc.want) {
				t.Fatalf("referrers %v, want %v", digests, tc.want)
			}
		})
	}
}

// errStatus500 stands for a StatusError of HTTP 500 in TestReferrersHostile.
var errStatus500 = errors.New("HTTP 500")

// errIs is errors.Is, with errStatus500 matching a StatusError of that status.
func errIs(err, target error) bool {
	if target == errStatus500 {
		var se *StatusError
		return errors.As(err, &se) && se.Code == http.StatusInternalServerError
	}
	return errors.Is(err, target)
}

// TestReferrersBadSubject: a subject that is not a digest is refused before any request.
func TestReferrersBadSubject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("asked %s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	c := must(New())
	if _, err := c.Referrers(t.Context(), srv.Listener.Addr().String()+"/ess/app", "sha256:../x"); !errors.Is(err, verify.ErrBadDigest) {
		t.Fatalf("err = %v, want ErrBadDigest", err)
	}
}
