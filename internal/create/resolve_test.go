package create

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestResolve: every distinct source is resolved once, in order; a source that fails fails
// every container it serves, each under its own key; a pinned source is fetched by its digest.
func TestResolve(t *testing.T) {
	_, images := tinyWorld(t, 41)
	twin := images[0]
	twin.Component, twin.Container = "other", "twin"
	gone := images[1]
	gone.Path += "-gone"
	goneTwin := gone
	goneTwin.Component = "also"
	list := &digests.List{Images: []digests.Image{images[0], twin, gone, goneTwin, pinnedOnly(images[2])}}
	groups := list.Groups()
	if len(groups) != 3 {
		t.Fatalf("%d groups", len(groups))
	}
	got, failed := resolve(t.Context(), newClient(t), mirror.DefaultJobs, groups, nil, newHeldBytes())
	if len(got) != 2 || len(failed) != 2 {
		t.Fatalf("%d resolved, failed %v", len(got), failed)
	}
	for _, k := range []string{gone.Key(), goneTwin.Key()} {
		err := failed[k]
		if err == nil || !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), gone.Ref()) {
			t.Errorf("%s: %v", k, err)
		}
	}
	byDigest := map[string]*image{}
	for _, im := range got {
		byDigest[im.root.Desc.Digest] = im
		if im.upstream != "" {
			t.Errorf("%s: upstream %s without --platform", im.ref, im.upstream)
		}
	}
	if im := byDigest[images[0].Digest]; im == nil || im.ref != images[0].Repository()+"@"+images[0].Digest { // listed with both: by the digest
		t.Errorf("the source listed by tag and digest was fetched as %+v", im)
	}
	if im := byDigest[images[0].Digest]; im == nil || len(im.group.Members) != 2 || memberKeys(im.group) != images[0].Key()+", other.twin" && memberKeys(im.group) != "other.twin, "+images[0].Key() {
		t.Errorf("the shared source: %+v", im)
	}
	if im := byDigest[images[2].Digest]; im == nil || im.ref != images[2].Repository()+"@"+images[2].Digest {
		t.Errorf("the pinned source was fetched as %+v", im)
	}
	for _, im := range got { // every config was read in the image's own resolution
		im.root.Walk(func(n *manifest.Node) {
			if len(n.Blobs) > 0 && n.Config == nil {
				t.Errorf("%s: the config of %s was not read", im.ref, n.Desc.Digest)
			}
		})
	}
}

// TestResolveCancelled: a run cancelled before resolution fails every container with the
// context's error and makes no request.
func TestResolveCancelled(t *testing.T) {
	up, images := tinyWorld(t, 42)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	before := up.Requests()
	got, failed := resolve(ctx, newClient(t), mirror.DefaultJobs, (&digests.List{Images: images}).Groups(), nil, newHeldBytes())
	if len(got) != 0 || len(failed) != len(images) {
		t.Fatalf("%d resolved, %d failed", len(got), len(failed))
	}
	for k, err := range failed {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", k, err)
		}
	}
	if n := up.Requests() - before; n != 0 {
		t.Errorf("%d requests after Ctrl-C", n)
	}
}

// TestCreatePlatforms: --platform keeps the platforms asked for of an index, recording the
// digest upstream serves; a single-platform image of another platform, and an index that
// lacks the platform, fail with mirror.ErrPlatform, naming what the image has, and are not retried
// (the failure is the same on every try).
func TestCreatePlatforms(t *testing.T) {
	_, images := tinyWorld(t, 43)
	c := newClient(t)
	var index, single *digests.Image
	for i := range images {
		m, err := c.GetManifest(t.Context(), images[i].Repository()+"@"+images[i].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if manifest.IsIndex(m.MediaType) && index == nil {
			index = &images[i]
		} else if manifest.IsManifest(m.MediaType) && single == nil {
			single = &images[i]
		}
	}
	if index == nil || single == nil {
		t.Fatalf("the fixture has no index, or no single-platform image: %v", images)
	}
	arm := []manifest.Platform{{OS: "linux", Architecture: "arm64"}}
	res, err := createIn(t, c, CreateOptions{List: &digests.List{Images: []digests.Image{*index}}, Platforms: arm, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	im := res.Manifest.Images[0]
	if im.UpstreamDigest != index.Digest || im.Digest == index.Digest || len(im.Platforms) != 1 || !strings.HasPrefix(im.Platforms[0], "linux/arm64") {
		t.Errorf("filtered index: %+v", im)
	}
	all := []manifest.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	res, err = createIn(t, c, CreateOptions{List: &digests.List{Images: []digests.Image{*index}}, Platforms: all, DryRun: true})
	if err != nil || res.Manifest.Images[0].Digest != index.Digest || res.Manifest.Images[0].UpstreamDigest != "" {
		t.Errorf("every platform kept: %+v, %v", res.Manifest.Images, err)
	}

	s390 := []manifest.Platform{{OS: "linux", Architecture: "s390x"}}
	for _, tc := range []struct {
		name string
		im   digests.Image
		want []manifest.Platform
		says string
	}{
		{"a single-platform image", *single, arm, "is linux/amd64 only, not linux/arm64"},
		{"an index", *index, s390, "linux/s390x is not in index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := createIn(t, c, CreateOptions{List: &digests.List{Images: []digests.Image{tc.im}}, Platforms: tc.want, DryRun: true})
			if !errors.Is(err, ErrNothing) || !errors.Is(err, mirror.ErrRefused) || res == nil { // a rerun meets it again
				t.Fatalf("err = %v", err)
			}
			ferr := res.Failed[tc.im.Key()]
			if !errors.Is(ferr, mirror.ErrPlatform) || !strings.Contains(ferr.Error(), tc.says) || !strings.Contains(ferr.Error(), tc.im.Key()) {
				t.Errorf("failure: %v", ferr)
			}
			if mirror.Retryable(t.Context(), ferr) {
				t.Errorf("retried: %v", ferr)
			}
		})
	}
}

// TestCollect: the bundle's blobs are listed once each, indexes and manifests first, then
// configs (with their bytes), then layers, largest first; layers the base has are apart.
func TestCollect(t *testing.T) {
	_, images := tinyWorld(t, 44)
	c := newClient(t)
	got, failed := resolve(t.Context(), c, mirror.DefaultJobs, (&digests.List{Images: images}).Groups(), nil, newHeldBytes())
	if len(failed) != 0 {
		t.Fatal(failed)
	}
	blobs, external, err := collect(t.Context(), c, got, nil)
	if err != nil || len(external) != 0 {
		t.Fatalf("%v, external %v", err, external)
	}
	rank := map[string]int{archive.KindIndex: 0, archive.KindManifest: 0, archive.KindConfig: 1, archive.KindLayer: 2}
	seen := map[string]bool{}
	var layers []*blob
	for i, b := range blobs {
		if seen[b.Digest] {
			t.Errorf("blob %s twice", b.Digest)
		}
		seen[b.Digest] = true
		if i > 0 && rank[b.Kind] < rank[blobs[i-1].Kind] {
			t.Errorf("blob %d (%s) after a %s", i, b.Kind, blobs[i-1].Kind)
		}
		if (b.Kind == archive.KindLayer) != (b.data == nil) {
			t.Errorf("%s %s: in memory %v", b.Kind, b.Digest, b.data != nil)
		}
		if b.Kind == archive.KindLayer {
			layers = append(layers, b)
		}
		if b.data != nil && verify.Digest(b.data) != b.Digest {
			t.Errorf("%s %s: the bytes held are another's", b.Kind, b.Digest)
		}
		if b.repo == "" {
			t.Errorf("%s: no repository to pull it from", b.Digest)
		}
	}
	if len(layers) < 2 {
		t.Fatalf("%d layers", len(layers))
	}
	if !slices.IsSortedFunc(layers, func(a, b *blob) int { return int(b.Size - a.Size) }) {
		t.Error("layers not largest first")
	}
	shared := false // nginx and redis are both on alpine: one base layer for both
	for _, l := range layers {
		users := 0
		for _, im := range got {
			im.root.Walk(func(n *manifest.Node) {
				for _, d := range n.Blobs[min(1, len(n.Blobs)):] {
					if d.Digest == l.Digest {
						users++
					}
				}
			})
		}
		shared = shared || users > 1
	}
	if !shared {
		t.Error("no layer shared by two images: the test proves nothing about duplicates")
	}

	have := func(d string) bool { return d == layers[0].Digest || d == layers[1].Digest }
	blobs2, external, err := collect(t.Context(), c, got, have)
	if err != nil || len(external) != 2 || len(blobs2) != len(blobs)-2 {
		t.Fatalf("with a base: %d blobs, external %v, %v", len(blobs2), external, err)
	}
	for _, b := range blobs2 {
		if have(b.Digest) {
			t.Errorf("%s carried though the base has it", b.Digest)
		}
	}
}

func TestMemberKeysPlatformList(t *testing.T) {
	g := digests.Group{Members: []digests.Image{{Entry: imageref.Entry{Component: "a", Container: "b"}}, {Entry: imageref.Entry{Component: "c", Container: "d"}}}}
	if got := memberKeys(g); got != "a.b, c.d" {
		t.Errorf("memberKeys = %q", got)
	}
	ps := []manifest.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
	if got := platformList(ps); got != "linux/amd64, linux/arm/v7" {
		t.Errorf("platformList = %q", got)
	}
}
