package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/name"
)

// secureRegistry starts a Distribution registry with htpasswd auth and TLS from a fresh CA.
func secureRegistry(t *testing.T) *testregistry.Registry {
	t.Helper()
	return testregistry.StartT(t, testregistry.WithAuth("ess", "s3cret-pw"), testregistry.WithTLS())
}

func pushArgs(reg *testregistry.Registry, bundle, configmap string, extra ...string) []string {
	args := []string{"push", "--registry", reg.Host, "--ca-file", reg.CAFile, "--username", reg.Username,
		"--password-stdin", "--configmap", configmap}
	return append(append(args, extra...), bundle)
}

func TestPushEndToEnd(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := secureRegistry(t)
	dir := t.TempDir()
	cm := filepath.Join(dir, "configmap.yaml")
	must(t, runRaced("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, cm, "--configmap-server", "localregistry.local")...))

	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "configmap.golden.yaml", data)
	got, err := digests.ParseConfigMap(data)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]digests.Image{}
	for _, im := range got {
		byKey[im.Key()] = im
	}
	if len(got) != len(w.images) {
		t.Fatalf("ConfigMap has %d containers, the list %d", len(got), len(w.images))
	}
	for _, up := range w.images {
		c, ok := byKey[up.Key()]
		if !ok {
			t.Fatalf("%s missing from the ConfigMap", up.Key())
		}
		if c.Server != "localregistry.local" || c.Path != up.Path || c.Tag != up.Tag {
			t.Errorf("%s: ConfigMap says %s/%s:%s", up.Key(), c.Server, c.Path, c.Tag)
		}
		served := headDigest(t, reg, reg.Host+"/"+c.Path+":"+c.Tag)
		if c.Digest != up.Digest || served != up.Digest {
			t.Errorf("%s: upstream %s, ConfigMap %s, registry serves %s", up.Key(), up.Digest, c.Digest, served)
		}
	}

	// A second push of the same bundle uploads nothing.
	before := reg.BlobBytesReceived()
	r := must(t, runRaced("unbundle", []byte(reg.Password+"\n"), pushArgs(reg, w.bundle, filepath.Join(dir, "again.yaml"))...))
	if n := reg.BlobBytesReceived() - before; n != 0 {
		t.Fatalf("second push uploaded %d blob bytes, want 0\n%s", n, r.stderr)
	}
}

// headDigest asks the registry which digest it serves for ref (REGISTRY/REPO:TAG or @DIGEST):
// the sha256 of the bytes it serves.
func headDigest(t *testing.T, reg *testregistry.Registry, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sessionOf(t, reg).ResolveTag(t.Context(), r.Context().RepositoryStr(), r.Identifier())
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d
}

// golden compares data with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(data) {
		t.Fatalf("%s differs from the golden file (run with -update if intended):\n%s", name, data)
	}
}
