package delta

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/archivetest"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/verify"
)

func noOpen(string) (*archive.Bundle, error) { return nil, errors.New("no bundle expected") }

// writeInventory writes inv as path.
func writeInventory(t *testing.T, inv Inventory) string {
	t.Helper()
	data, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadBaseInventory: an inventory gives the destination's blobs and manifests, the paths
// (without the registry's prefix) of the repositories that have tags, and the file's digest.
func TestLoadBaseInventory(t *testing.T) {
	blob, man, other := verify.Digest([]byte("blob")), verify.Digest([]byte("manifest")), verify.Digest([]byte("other"))
	path := writeInventory(t, Inventory{FormatVersion: 1, MediaType: InventoryMediaType, Registry: "reg.local:5000/ess/site",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Repositories: []InventoryRepo{
			{Name: "ess/site/element-hq/synapse", Tags: map[string]string{"v1": man}},
			{Name: "ess/site/library/redis", Tags: map[string]string{"7": man, "7.4": man}},
			{Name: "ess/site/absent"},
		},
		Manifests: []string{man}, Blobs: []string{blob}})
	data, _ := os.ReadFile(path)
	base, have, b, err := LoadBase(path, noOpen)
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		t.Error("an inventory opened a bundle")
	}
	if base.Kind != "inventory" || base.Name != "inventory.json" || base.Digest != verify.Digest(data) {
		t.Errorf("base %+v", base)
	}
	if want := []string{"element-hq/synapse", "library/redis"}; !slices.Equal(base.Paths, want) {
		t.Errorf("paths %q, want %q", base.Paths, want)
	}
	if !have(blob) || !have(man) || have(other) {
		t.Errorf("have: blob %v, manifest %v, other %v", have(blob), have(man), have(other))
	}

	// Without a prefix, the repository names are the paths.
	path = writeInventory(t, Inventory{FormatVersion: 1, MediaType: InventoryMediaType, Registry: "reg.local",
		Repositories: []InventoryRepo{{Name: "element-hq/synapse", Tags: map[string]string{"v1": man}}}})
	if base, _, _, err = LoadBase(path, noOpen); err != nil || !slices.Equal(base.Paths, []string{"element-hq/synapse"}) {
		t.Errorf("no prefix: %v, %+v", err, base)
	}
}

// TestLoadBaseRefuses: a missing or bad inventory, and a bundle that does not open, are
// *BaseError naming the base, with the cause.
func TestLoadBaseRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"formatVersion":7}`), 0o644)
	cases := []struct {
		name, path string
		want       error
	}{
		{"missing inventory", filepath.Join(dir, "none.json"), os.ErrNotExist},
		{"bad inventory", bad, ErrBadInventory},
		{"bundle that does not open", filepath.Join(dir, "old.tar.zst"), errNoBundle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := LoadBase(c.path, func(string) (*archive.Bundle, error) { return nil, errNoBundle })
			var be *BaseError
			if !errors.Is(err, c.want) || !errors.As(err, &be) || be.Path != c.path || strings.Contains(err.Error(), "--since") {
				t.Fatalf("got %v, want a *BaseError of %s wrapping %v (the flag is the command line's to name)", err, c.path, c.want)
			}
		})
	}
}

var errNoBundle = errors.New("cannot open the bundle")

// TestLoadBaseBundle: an earlier bundle gives every blob it carries, its images' paths (each
// once), its digest, and the bundle itself, open.
func TestLoadBaseBundle(t *testing.T) {
	blobs := testbundle.FanOut(2, 1)
	root := blobs[0]
	images := []testbundle.Image{
		{Component: "synapse", Container: "synapse", Server: "ghcr.io", Path: "element-hq/synapse", Tag: "v1", Root: root},
		{Component: "synapse", Container: "again", Server: "ghcr.io", Path: "element-hq/synapse", Tag: "v1", Root: root},
		{Component: "redis", Container: "redis", Server: "docker.io", Path: "library/redis", Tag: "7", Root: root},
	}
	path, err := testbundle.Write(t.TempDir(), "old", images, blobs)
	if err != nil {
		t.Fatal(err)
	}
	opened := ""
	base, have, b, err := LoadBase(path, func(p string) (*archive.Bundle, error) {
		opened = p
		return trust.Open(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if opened != path || base.Kind != "bundle" || base.Name != "old.tar.zst" {
		t.Errorf("opened %s, base %+v", opened, base)
	}
	if want := []string{"element-hq/synapse", "library/redis"}; !slices.Equal(base.Paths, want) {
		t.Errorf("paths %q, want %q", base.Paths, want)
	}
	for _, bl := range blobs {
		if !have(bl.Digest()) {
			t.Errorf("the base lacks %s", bl.Digest())
		}
	}
	if have(verify.Digest([]byte("not carried"))) {
		t.Error("the base has a blob it does not carry")
	}
	data, _ := os.ReadFile(path)
	if base.Digest != verify.Digest(data) {
		t.Errorf("digest %s, want the file's %s", base.Digest, verify.Digest(data))
	}
}

// TestLoadBaseDeltaOfDelta: a delta bundle as base gives the layers it relies on too, and the
// paths of its own base.
func TestLoadBaseDeltaOfDelta(t *testing.T) {
	config := []byte(`{"os":"linux"}`)
	external := verify.Digest([]byte("a layer the base of the base has"))
	cd := manifest.Descriptor{MediaType: manifest.OCIConfig, Digest: verify.Digest(config), Size: int64(len(config))}
	ld := manifest.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: external, Size: 32}
	m := testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, Config: &cd, Layers: []manifest.Descriptor{ld}})
	md := manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: verify.Digest(m), Size: int64(len(m))}
	index := testbundle.JSON(map[string]any{"schemaVersion": 2, "mediaType": manifest.OCIIndex, "manifests": []manifest.Descriptor{md}})
	l := archivetest.Layout{Index: index,
		Blobs:  []archivetest.BlobRecord{{Data: m, Kind: archive.KindManifest, MediaType: manifest.OCIManifest}, {Data: config, Kind: archive.KindConfig, MediaType: manifest.OCIConfig}},
		Images: []archive.Image{{Entry: imageref.Entry{Component: "c", Container: "c", Server: "ghcr.io", Path: "new/image", Tag: "1"}, Digest: md.Digest, MediaType: md.MediaType, Size: md.Size}},
		Edit: func(man *archive.Manifest) {
			man.Base = &archive.Base{Kind: "inventory", Name: "inv.json", Digest: verify.Digest([]byte("inv")), Paths: []string{"old/image", "new/image"}}
			man.External = []archive.Blob{{Digest: external, Size: 32, Kind: archive.KindLayer, MediaType: ld.MediaType}}
		}}
	path := filepath.Join(t.TempDir(), "delta.tar.zst")
	data, err := archivetest.Write(path, l.Entries())
	if err != nil {
		t.Fatal(err)
	}
	// A checksum file beside the bundle is read for the digest instead of the bundle: here it
	// names other bytes, which shows it was the one read.
	other := []byte(strings.Repeat("not the bundle, ", 4))
	if _, err := archivetest.WriteSums(path, other); err != nil {
		t.Fatal(err)
	}
	base, have, b, err := LoadBase(path, trust.Open)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !have(external) || !have(md.Digest) {
		t.Errorf("have: external %v, manifest %v", have(external), have(md.Digest))
	}
	if want := []string{"new/image", "old/image"}; !slices.Equal(base.Paths, want) {
		t.Errorf("paths %q, want %q", base.Paths, want)
	}
	if base.Digest != verify.Digest(other) || base.Digest == verify.Digest(data) {
		t.Errorf("digest %s: not the checksum file's", base.Digest)
	}
}
