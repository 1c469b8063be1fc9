package push

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestTakeInventory pushes an index (two tags) and an image, and takes the inventory of their
// repositories and of one the registry does not have.
func TestTakeInventory(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithAuth("u", "s3cret"), testregistry.WithTLS())
	ctx := t.Context()
	opts := fixture.Options{Registry: reg.Host, Transport: reg.Transport(), Username: "u", Password: "s3cret"}
	idx, err := random.Index(64, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "latest"} {
		if err := fixture.WriteIndex(ctx, opts, "ess/app", tag, idx); err != nil {
			t.Fatal(err)
		}
	}
	if err := fixture.WriteImage(ctx, opts, "ess/web", "2", img); err != nil {
		t.Fatal(err)
	}

	var manifests, blobs []string
	addImage := func(im v1.Image) string {
		d, _ := im.Digest()
		m, err := im.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, d.String())
		blobs = append(blobs, m.Config.Digest.String())
		for _, l := range m.Layers {
			blobs = append(blobs, l.Digest.String())
		}
		return d.String()
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		child, err := idx.Image(c.Digest)
		if err != nil {
			t.Fatal(err)
		}
		addImage(child)
	}
	idxDigest, _ := idx.Digest()
	manifests = append(manifests, idxDigest.String())
	imgDigest := addImage(img)
	slices.Sort(manifests)
	slices.Sort(blobs)

	c, err := oci.New(oci.WithCAFile(reg.CAFile), oci.WithCredentials(reg.Host, "u", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	d := Destination{Host: reg.Host, Prefix: "ess"}
	inv, err := TakeInventory(ctx, c, d, []string{"ess/web", "ess/app", "ess/absent", "ess/app"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantRepos := []delta.InventoryRepo{
		{Name: "ess/absent", Tags: map[string]string{}},
		{Name: "ess/app", Tags: map[string]string{"1": idxDigest.String(), "latest": idxDigest.String()}},
		{Name: "ess/web", Tags: map[string]string{"2": imgDigest}},
	}
	if !slices.EqualFunc(inv.Repositories, wantRepos, func(a, b delta.InventoryRepo) bool {
		return a.Name == b.Name && len(a.Tags) == len(b.Tags) && strings.Join(sortedTags(a), ",") == strings.Join(sortedTags(b), ",")
	}) {
		t.Errorf("repositories %v, want %v", inv.Repositories, wantRepos)
	}
	if !slices.Equal(inv.Manifests, manifests) || !slices.Equal(inv.Blobs, blobs) {
		t.Errorf("manifests %v\nblobs %v\nwant %v\nand %v", inv.Manifests, inv.Blobs, manifests, blobs)
	}
	if inv.Registry != reg.Host+"/ess" || inv.FormatVersion != 1 || inv.MediaType != delta.InventoryMediaType {
		t.Errorf("header %q %d %q", inv.Registry, inv.FormatVersion, inv.MediaType)
	}

	// The file round-trips, holds no secret, and Has answers for both kinds.
	data, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cret") {
		t.Fatal("the inventory holds the password")
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := delta.ReadInventory(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, dg := range append(append([]string{}, manifests...), blobs...) {
		if !back.Has(dg) {
			t.Errorf("Has(%s) = false", dg)
		}
	}
	if back.Has(verify.Digest([]byte("other"))) {
		t.Error("Has(other) = true")
	}
}

func sortedTags(r delta.InventoryRepo) []string {
	var out []string
	for tag, d := range r.Tags {
		out = append(out, tag+"="+d)
	}
	slices.Sort(out)
	return out
}
