package oci

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushTags pushes one small random image to reg as repo:tag for every tag, and returns its digest.
func pushTags(t *testing.T, reg *testregistry.Registry, repo string, tags ...string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		ref, err := name.ParseReference(reg.Host + "/" + repo + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, append(remoteOptions(reg), remote.WithContext(t.Context()))...); err != nil {
			t.Fatal(err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func newReader(t *testing.T, reg *testregistry.Registry) *Session {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestListTagsPages: with pages of 2, five tags come back over three pages, by the Link header.
func TestListTagsPages(t *testing.T) {
	reg := testregistry.StartT(t)
	want := []string{"a", "b", "c", "d", "e"}
	pushTags(t, reg, "ess/app", want...)
	p := newReader(t, reg)

	defer func(n int) { tagsPageSize = n }(tagsPageSize)
	for _, n := range []int{0, 2, 5} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			tagsPageSize = n
			before := reg.Requests()
			got, err := p.ListTags(t.Context(), "ess/app")
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("tags %v, want %v", got, want)
			}
			if n == 2 {
				if r := reg.Requests() - before; r < 3 {
					t.Fatalf("%d requests for 5 tags in pages of 2, want 3 or more", r)
				}
			}
		})
	}
}

// TestListTagsMissing: an unknown repository is ErrNotFound, on both registries.
func TestListTagsMissing(t *testing.T) {
	ggcr, err := testregistry.StartGGCR()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ggcr.Close() })
	for name, reg := range map[string]*testregistry.Registry{"distribution": testregistry.StartT(t), "ggcr": ggcr} {
		t.Run(name, func(t *testing.T) {
			pushTags(t, reg, "ess/other", "1")
			_, err := newReader(t, reg).ListTags(t.Context(), "ess/nothing")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestGetManifest(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithAuth("u", "pw"), testregistry.WithTLS())
	repo := "ess/app"
	digest := pushTags(t, reg, repo, "1.0")
	c, err := New(WithCAFile(reg.CAFile), WithCredentials(reg.Host, "u", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"1.0", digest} {
		raw, mt, err := p.GetManifest(t.Context(), repo, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got := verify.Digest(raw); got != digest || mt != "application/vnd.docker.distribution.manifest.v2+json" {
			t.Fatalf("%s: digest %s, media type %q; want %s", ref, got, mt, digest)
		}
	}
	absent := verify.Digest([]byte("absent"))
	if _, _, err := p.GetManifest(t.Context(), repo, absent); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent digest: err = %v, want ErrNotFound", err)
	}
	if _, _, err := p.GetManifest(t.Context(), repo, "sha256:ABC"); !errors.Is(err, verify.ErrBadDigest) {
		t.Fatalf("bad digest: err = %v, want ErrBadDigest", err)
	}
}

func TestNextLink(t *testing.T) {
	p := &Session{base: "https://reg.local:5000/v2/"}
	for _, tc := range []struct {
		values []string
		want   string
		bad    bool
	}{
		{nil, "", false},
		{[]string{`</v2/a/tags/list?last=b&n=2>; rel="next"`}, "https://reg.local:5000/v2/a/tags/list?last=b&n=2", false},
		{[]string{`<https://reg.local:5000/v2/a/tags/list?last=b>; rel=next`}, "https://reg.local:5000/v2/a/tags/list?last=b", false},
		{[]string{`</other>; rel="prev", </v2/a/tags/list?last=c>; rel="next"`}, "https://reg.local:5000/v2/a/tags/list?last=c", false},
		{[]string{`<https://elsewhere.example/v2/a/tags/list>; rel="next"`}, "", true},
		{[]string{`<http://reg.local:5000/v2/a/tags/list>; rel="next"`}, "", true},
	} {
		got, err := p.nextLink(tc.values)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("nextLink(%q) = %q, %v; want %q, error %v", tc.values, got, err, tc.want, tc.bad)
		}
	}
}
