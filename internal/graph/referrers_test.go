package graph

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// found is one referrer as a test compares it: digest, depth, what its subject is.
type found struct {
	digest string
	depth  int
	of     string
}

func referrersOf(im *Image) []found {
	var out []found
	for _, r := range im.Referrers {
		out = append(out, found{r.Digest, r.Depth, r.Of})
		if r.Node == nil || r.Node.Desc.Digest != r.Digest {
			out = append(out, found{"no graph for " + r.Digest, 0, ""})
		}
	}
	return out
}

// TestReferrers: an image's referrers are those of its manifests and indexes and of its
// referrers, in the bundle's order, each with its depth and what its subject is (the index,
// a platform's manifest, the attestation manifest, a manifest, a referrer's artifact type);
// another image's referrers are not its.
func TestReferrers(t *testing.T) {
	w := newWorld()
	g, err := Read(t.Context(), w.open(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		im   *Image
		want []found
	}{
		{g.Images()[0], []found{{w.sig.Digest(), 1, "index"}, {w.sbom.Digest(), 1, "linux/amd64"},
			{w.sbomSig.Digest(), 2, "application/spdx+json"}, {w.attRef.Digest(), 1, "attestation manifest"}}},
		{g.Images()[1], []found{{w.bSig.Digest(), 1, "manifest"}}},
	} {
		t.Run(tc.im.Key(), func(t *testing.T) {
			if got := referrersOf(tc.im); !slices.Equal(got, tc.want) {
				t.Errorf("referrers:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestReferrersHostile: what the index finds does not rest on archive's checks of
// bundle.json: a referrer listed before its subject is not reached, one whose subject is in
// no image is no image's, and subjects that loop end.
func TestReferrersHostile(t *testing.T) {
	w := newWorld()
	single := testbundle.Image{Component: "c", Container: "b", Server: "example.org", Path: "b", Tag: "1", Root: w.single}
	g, err := Read(t.Context(), openBundle(t, []testbundle.Image{single}, dedupe(w.blobs), testbundle.Extra{}))
	if err != nil {
		t.Fatal(err)
	}
	root := g.Images()[0].Root
	of := func(subject string, r testbundle.Blob) archive.Referrer {
		out := ref(w.single, r, "")
		out.Subject = subject
		return out
	}
	for _, tc := range []struct {
		name string
		refs []archive.Referrer
		want []found
	}{
		{"a referrer listed before its subject", []archive.Referrer{ref(w.sbom, w.sbomSig, ""), of(w.single.Digest(), w.sbom)},
			[]found{{w.sbom.Digest(), 1, "manifest"}}},
		{"subjects in no image", []archive.Referrer{ref(w.amd, w.sbom, ""), ref(w.single, w.bSig, "sig"),
			of("sha256:"+strings.Repeat("0", 64), w.attRef)},
			[]found{{w.bSig.Digest(), 1, "manifest"}}},
		{"subjects in a loop", []archive.Referrer{of(w.single.Digest(), w.sbom), of(w.sbom.Digest(), w.sbomSig),
			of(w.sbomSig.Digest(), w.sbom)},
			[]found{{w.sbom.Digest(), 1, "manifest"}, {w.sbomSig.Digest(), 2, "application/spdx+json"},
				{w.sbom.Digest(), 3, "application/vnd.dev.sigstore.bundle.v0.3+json"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []found
			for _, r := range newReferrerIndex(tc.refs).of(root) {
				got = append(got, found{r.Digest, r.Depth, r.Of})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("referrers:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestLoadReferrerLoop: a loop of subjects that bundle.json may hold (a referrer listed again
// under a cosign tag of its own referrer) is loaded, each manifest read and parsed once.
func TestLoadReferrerLoop(t *testing.T) {
	w := newWorld()
	single := testbundle.Image{Component: "c", Container: "b", Server: "example.org", Path: "b", Tag: "1", Root: w.single}
	again := ref(w.sbomSig, w.sbom, "att")
	refs := []archive.Referrer{ref(w.single, w.sbom, ""), ref(w.sbom, w.sbomSig, ""), again}
	g, err := Read(t.Context(), openBundle(t, []testbundle.Image{single}, dedupe(w.blobs), testbundle.Extra{Referrers: refs}))
	if err != nil {
		t.Fatal(err)
	}
	im := g.Images()[0]
	want := []found{{w.sbom.Digest(), 1, "manifest"}, {w.sbomSig.Digest(), 2, "application/spdx+json"},
		{w.sbom.Digest(), 3, "application/vnd.dev.sigstore.bundle.v0.3+json"}}
	if got := referrersOf(im); !slices.Equal(got, want) {
		t.Fatalf("referrers:\n got %v\nwant %v", got, want)
	}
	if im.Referrers[0].Node != im.Referrers[2].Node {
		t.Errorf("the referrer listed twice was parsed twice")
	}
	if got := nodeDigests(im.Manifests()); !slices.Equal(got, digests(w.single, w.sbom, w.sbomSig)) {
		t.Errorf("manifests %v", got)
	}
}

// TestReferrersMany: finding an image's referrers looks only at what its own digests reach,
// not at every referrer of the bundle: 40,000 images with one referrer each are matched within
// 20 times the time of building them, a linear pass slowed as much by -race and the machine's
// load (looking at every referrer for every image would be 1.6 billion looks).
func TestReferrersMany(t *testing.T) {
	if newReferrerIndex(nil).of(nil) != nil {
		t.Fatal("an empty index found referrers")
	}
	const n = 40000
	digest := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	built := time.Now()
	all := make([]archive.Referrer, n)
	roots := make([]*manifest.Node, n)
	for i := range n {
		all[i] = archive.Referrer{Subject: digest(i), Digest: digest(n + i), ArtifactType: "text/plain"}
		roots[i] = &manifest.Node{Desc: manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: digest(i)}}
	}
	build := time.Since(built) // a linear pass over the same referrers, under the same load
	start := time.Now()
	x := newReferrerIndex(all)
	for i, root := range roots {
		rs := x.of(root)
		if len(rs) != 1 || rs[0].Digest != digest(n+i) || rs[0].Depth != 1 || rs[0].Of != "manifest" {
			t.Fatalf("image %d: found %+v, want its one referrer", i, rs)
		}
	}
	took := time.Since(start)
	t.Logf("took %s, building %s", took, build)
	if took > 20*build+time.Second {
		t.Errorf("%d images' referrers among %d took %s, more than 20 times the %s of building them: not linear", n, n, took, build)
	}
}

func TestReferrerString(t *testing.T) {
	w := newWorld()
	sig := ref(w.single, w.bSig, "sig")
	for _, tc := range []struct {
		r    archive.Referrer
		want string
	}{
		{sig, sig.ArtifactType + " " + w.bSig.Digest() + " (tag " + strings.Replace(w.single.Digest(), ":", "-", 1) + ".sig)"},
		{ref(w.amd, w.sbom, ""), "application/spdx+json " + w.sbom.Digest() + " (of " + w.amd.Digest() + ")"},
	} {
		if got := (Referrer{Referrer: tc.r}).String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
