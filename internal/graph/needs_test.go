package graph

import (
	"slices"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

func TestRepo(t *testing.T) {
	for _, tc := range []struct{ prefix, path, want string }{
		{"", "library/haproxy", "library/haproxy"},
		{"ess", "library/haproxy", "ess/library/haproxy"},
		{"site/ess", "element-hq/synapse", "site/ess/element-hq/synapse"},
	} {
		if got := Repo(tc.prefix, tc.path); got != tc.want {
			t.Errorf("Repo(%q, %q) = %q, want %q", tc.prefix, tc.path, got, tc.want)
		}
		if got := (&Image{Image: archive.Image{Entry: imageref.Entry{Path: tc.path}}}).Repo(tc.prefix); got != tc.want {
			t.Errorf("Image.Repo(%q) of %q = %q, want %q", tc.prefix, tc.path, got, tc.want)
		}
	}
}

// TestImageNeeds: an image's manifests are its graph's, children before the index, then its
// referrers', each once; its blobs are the configs and layers of those, each once, in that
// order (a layer shared by two platforms and a config shared by referrers counted once).
func TestImageNeeds(t *testing.T) {
	w := newWorld()
	g, err := Read(t.Context(), w.open(t))
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.Images()[0], g.Images()[1]
	_, sigL := signature("sig of a")
	_, bSigL := signature("sig of b")
	_, sbomL := artifact("application/spdx+json", &w.amd, "sbom of amd")
	_, sbomSigL := artifact("application/vnd.dev.sigstore.bundle.v0.3+json", &w.sbom, "sig of the sbom")
	_, attRefL := artifact("text/plain", &w.att, "a note on the attestation")
	for _, tc := range []struct {
		name             string
		im               *Image
		manifests, blobs []string
	}{
		{"c.a (an index)", a,
			digests(w.amd, w.arm, w.att, w.index, w.sig, w.sbom, w.sbomSig, w.attRef),
			digests(w.amdConfig, w.shared, w.amdOnly, w.armConfig, w.armOnly, config("attestation"), layer("in-toto"),
				config("signature"), sigL, emptyConfig, sbomL, sbomSigL, attRefL)},
		{"c.b (a manifest)", b,
			digests(w.single, w.bSig),
			digests(w.bConfig, w.shared, w.bOnly, config("signature"), bSigL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeDigests(tc.im.Manifests()); !slices.Equal(got, tc.manifests) {
				t.Errorf("Manifests:\n got %v\nwant %v", got, tc.manifests)
			}
			if got := descDigests(tc.im.Blobs()); !slices.Equal(got, tc.blobs) {
				t.Errorf("Blobs:\n got %v\nwant %v", got, tc.blobs)
			}
		})
	}
}

// TestRepositories: images group by the repository they land in under the prefix, in the
// order first met; a repository's manifests and blobs are its images', each once, an image
// of a digest met already in it adding nothing, another image adding what it has new.
func TestRepositories(t *testing.T) {
	w := newWorld()
	// c.c lands in a's repository with c.b's image: its manifest, config and b-only layer join
	// a's, the layer both share does not come twice.
	images := append(slices.Clone(w.images), testbundle.Image{Component: "c", Container: "c", Server: "example.org", Path: "a", Tag: "2", Root: w.single})
	g, err := Read(t.Context(), openBundle(t, images, dedupe(w.blobs), testbundle.Extra{Referrers: w.referrers}))
	if err != nil {
		t.Fatal(err)
	}
	ims := g.Images()
	for _, prefix := range []string{"", "ess"} {
		rs := g.Repositories(prefix)
		var names []string
		for _, r := range rs {
			names = append(names, r.Name)
		}
		if want := []string{Repo(prefix, "a"), Repo(prefix, "b")}; !slices.Equal(names, want) {
			t.Fatalf("prefix %q: repositories %v, want %v", prefix, names, want)
		}
		ra, rb := rs[0], rs[1]
		if !slices.Equal(ra.Images, []*Image{ims[0], ims[2], ims[3]}) || !slices.Equal(rb.Images, []*Image{ims[1]}) {
			t.Errorf("prefix %q: images by repository: a %d, b %d", prefix, len(ra.Images), len(rb.Images))
		}
		wantM := slices.Concat(nodeDigests(ims[0].Manifests()), digests(w.single, w.bSig))
		if got := nodeDigests(ra.Manifests); !slices.Equal(got, wantM) {
			t.Errorf("prefix %q: a's manifests\n got %v\nwant %v", prefix, got, wantM)
		}
		_, bSigL := signature("sig of b")
		wantB := slices.Concat(descDigests(ims[0].Blobs()), digests(w.bConfig, w.bOnly, bSigL))
		if got := descDigests(ra.Blobs); !slices.Equal(got, wantB) {
			t.Errorf("prefix %q: a's blobs\n got %v\nwant %v", prefix, got, wantB)
		}
		if got := descDigests(rb.Blobs); !slices.Equal(got, descDigests(ims[1].Blobs())) {
			t.Errorf("prefix %q: b's blobs %v", prefix, got)
		}
	}
}

// TestBlobUsers: every manifest, config and layer of the images' graphs maps to the entries
// that use it, each once, in the graph's order; their referrers' blobs are no image's.
func TestBlobUsers(t *testing.T) {
	w := newWorld()
	g, err := Read(t.Context(), w.open(t))
	if err != nil {
		t.Fatal(err)
	}
	users := g.BlobUsers()
	_, sigL := signature("sig of a")
	for _, tc := range []struct {
		blob testbundle.Blob
		want []string
	}{
		{w.shared, []string{"c.a", "c.b", "c.a2"}},
		{w.amdOnly, []string{"c.a", "c.a2"}},
		{w.index, []string{"c.a", "c.a2"}},
		{w.att, []string{"c.a", "c.a2"}},
		{w.single, []string{"c.b"}},
		{w.bConfig, []string{"c.b"}},
		{w.sig, nil},
		{sigL, nil},
	} {
		if got := users[tc.blob.Digest()]; !slices.Equal(got, tc.want) {
			t.Errorf("%s: used by %v, want %v", tc.blob.Digest(), got, tc.want)
		}
	}
	// Every blob of c.b's graph, and no other, names c.b.
	var ofB []string
	for d, keys := range users {
		if slices.Contains(keys, "c.b") {
			ofB = append(ofB, d)
		}
	}
	slices.Sort(ofB)
	want := digests(w.single, w.bConfig, w.shared, w.bOnly)
	slices.Sort(want)
	if !slices.Equal(ofB, want) {
		t.Errorf("blobs naming c.b: %v, want %v", ofB, want)
	}
}
