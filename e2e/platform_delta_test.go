package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestPlatformFilter: --platform keeps one platform of every index; the bundle records the
// upstream and the new digest, list shows both, and the ConfigMap carries what was pushed.
func TestPlatformFilter(t *testing.T) {
	t.Parallel()
	w := setup(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "amd64.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--platform", "linux/amd64", "--images", w.list, "--output", out))
	upstream := map[string]string{}
	for _, im := range w.images {
		upstream[im.Key()] = im.Digest
	}
	filtered := 0
	bundled := map[string]string{}
	for _, im := range mustOpenManifest(t, out).Images {
		bundled[im.Key()] = im.Digest
		if im.UpstreamDigest == "" {
			if im.Digest != upstream[im.Key()] {
				t.Errorf("%s: digest changed without an upstream digest recorded", im.Key())
			}
			continue
		}
		filtered++
		if im.UpstreamDigest != upstream[im.Key()] || im.Digest == im.UpstreamDigest {
			t.Errorf("%s: upstream %s, new %s, want upstream %s", im.Key(), im.UpstreamDigest, im.Digest, upstream[im.Key()])
		}
		if strings.Contains(im.MediaType, "index") || strings.Contains(im.MediaType, "list") || len(im.Platforms) != 1 || im.Platforms[0] != "linux/amd64" {
			t.Errorf("%s: one platform left, want its manifest: %s %v", im.Key(), im.MediaType, im.Platforms)
		}
	}
	if filtered == 0 {
		t.Fatal("no multi-platform image in the fixture was filtered")
	}
	l := must(t, runCmd("bundle", nil, "list", out))
	if !strings.Contains(l.stdout, "UPSTREAM DIGEST") {
		t.Fatalf("list does not show upstream digests:\n%s", l.stdout)
	}
	reg := testregistry.StartT(t)
	cm := filepath.Join(dir, "cm.yaml")
	must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", cm, out))
	data, _ := os.ReadFile(cm)
	got, err := digests.ParseConfigMap(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range got {
		if im.Digest != bundled[im.Key()] {
			t.Errorf("%s: ConfigMap %s, bundle %s", im.Key(), im.Digest, bundled[im.Key()])
		}
	}

	// A platform that an image lacks is an error naming it.
	r := runCmd("bundle", nil, "create", "--platform", "linux/s390x", "--images", w.list, "--output", filepath.Join(dir, "s390x.tar.zst"))
	if r.code == 0 || !strings.Contains(r.stderr, "linux/s390x") {
		t.Fatalf("missing platform: exit %d\n%s", r.code, r.stderr)
	}
}

// TestDeltaNeedsItsBase: a delta bundle pushed to a registry that lacks its base stops before
// pushing anything, naming the base and the missing blobs; pushed after the base, it completes.
func TestDeltaNeedsItsBase(t *testing.T) {
	t.Parallel()
	w := setup(t)
	dir := t.TempDir()
	delta := filepath.Join(dir, "delta.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--since", w.bundle, "--images", w.list, "--output", delta))
	m := mustOpenManifest(t, delta)
	if m.Base == nil || m.Base.Kind != "bundle" || len(m.External) == 0 {
		t.Fatalf("delta manifest: base %+v, %d external", m.Base, len(m.External))
	}
	for _, b := range m.Blobs {
		if b.Kind == archive.KindLayer {
			t.Fatalf("the delta carries layer %s that its base has", b.Digest)
		}
	}
	must(t, runCmd("bundle", nil, "verify", delta))

	reg, err := testregistry.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	cm := filepath.Join(dir, "cm.yaml")
	r := runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", cm, delta)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, filepath.Base(w.bundle)) || !strings.Contains(r.stderr, m.External[0].Digest) {
		t.Fatalf("exit %d; want an error naming the base and the missing blobs:\n%s", r.code, r.stderr)
	}
	if n := reg.BlobBytesReceived(); n != 0 {
		t.Fatalf("%d bytes pushed before the check", n)
	}
	must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", filepath.Join(dir, "base.yaml"), w.bundle))
	before := reg.BlobBytesReceived()
	must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", cm, delta))
	if n := reg.BlobBytesReceived() - before; n != 0 {
		t.Errorf("the delta of an unchanged list uploaded %d bytes", n)
	}
}
