package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/delta"
)

// TestInventoryEndToEnd pushes the shared bundle to a registry with auth and TLS, takes its
// inventory from the bundle and from the image list, and checks that the inventory holds every
// digest of the bundle and every tag, and no password.
func TestInventoryEndToEnd(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	dir := t.TempDir()
	pw := []byte(reg.Password + "\n")
	must(t, runCmd("unbundle", pw, pushArgs(reg, w.bundle, filepath.Join(dir, "configmap.yaml"))...))

	m := mustOpenManifest(t, w.bundle)
	for _, src := range []string{w.bundle, w.list} {
		out := filepath.Join(dir, filepath.Base(src)+".inventory.json")
		r := must(t, runCmd("unbundle", pw, "inventory", "--registry", reg.Host, "--ca-file", reg.CAFile,
			"--username", reg.Username, "--password-stdin", "--output", out, src))
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), reg.Password) || strings.Contains(r.stderr, reg.Password) {
			t.Fatalf("%s: the inventory or the output holds the password", src)
		}
		t.Logf("%s: inventory of %d blobs and %d containers is %d bytes; %s", filepath.Base(src), len(m.Blobs), len(m.Images), len(data), strings.TrimSpace(r.stderr))

		inv, err := delta.ReadInventory(out)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Registry != reg.Host {
			t.Errorf("registry %q, want %q", inv.Registry, reg.Host)
		}
		for _, b := range m.Blobs {
			if !inv.Has(b.Digest) {
				t.Errorf("%s: %s %s missing from the inventory", src, b.Kind, b.Digest)
			}
		}
		tags := map[string]string{}
		for _, repo := range inv.Repositories {
			for tag, d := range repo.Tags {
				tags[repo.Name+":"+tag] = d
			}
		}
		for _, im := range m.Images {
			if got := tags[im.Path+":"+im.Tag]; got != im.Digest {
				t.Errorf("%s: %s:%s is %q in the inventory, the bundle has %s", src, im.Path, im.Tag, got, im.Digest)
			}
		}
	}
}

// TestInventoryEmptyRegistry: before the first push every repository is recorded with no tags.
func TestInventoryEmptyRegistry(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	out := filepath.Join(t.TempDir(), "inventory.json")
	must(t, runCmd("unbundle", []byte(reg.Password+"\n"), "inventory", "--registry", reg.Host+"/ess", "--ca-file", reg.CAFile,
		"--username", reg.Username, "--password-stdin", "--output", out, w.list))
	inv, err := delta.ReadInventory(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Repositories) == 0 || len(inv.Manifests) != 0 || len(inv.Blobs) != 0 {
		t.Fatalf("%d repositories, %d manifests, %d blobs; want some, none, none", len(inv.Repositories), len(inv.Manifests), len(inv.Blobs))
	}
	for _, r := range inv.Repositories {
		if len(r.Tags) != 0 || !strings.HasPrefix(r.Name, "ess/") {
			t.Errorf("repository %s: %v", r.Name, r.Tags)
		}
	}
}
