package oci

import (
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseMirror(t *testing.T) {
	for in, want := range map[string]Mirror{
		"docker.io=harbor.corp/dockerhub-proxy":       {"docker.io", "harbor.corp", "dockerhub-proxy"},
		"index.docker.io=harbor.corp:8443/proxy/hub/": {"docker.io", "harbor.corp:8443", "proxy/hub"},
		"ghcr.io=nexus.corp":                          {"ghcr.io", "nexus.corp", ""},
	} {
		if got, err := ParseMirror(in); err != nil || got != want {
			t.Errorf("ParseMirror(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"docker.io", "docker.io=", "=harbor.corp", "postgres=harbor.corp", "docker.io=https://harbor.corp",
		"docker.io=harbor.corp/Proxy", "docker.io=harbor.corp/a/../b"} {
		_, err := ParseMirror(bad)
		var me *MirrorError
		if !errors.Is(err, ErrOption) || !errors.As(err, &me) || me.Mirror != bad || me.Problem == "" || strings.Contains(err.Error(), "--") {
			t.Errorf("ParseMirror(%q): %v, want a MirrorError naming it (and no flag)", bad, err)
		}
	}
	_, err := New(WithMirror(Mirror{"docker.io", "a.corp", ""}), WithMirror(Mirror{"docker.io", "b.corp", ""}))
	var me *MirrorError
	if !errors.Is(err, ErrOption) || !errors.As(err, &me) || !strings.Contains(me.Problem, "a.corp and b.corp") {
		t.Errorf("two mirrors for one registry: %v", err)
	}
}

// TestMirror: docker.io's images are pulled from a Harbor-like proxy project of a token-auth
// registry, with the credentials the Docker config holds for the mirror; docker.io itself is
// not reachable from here, so what is pulled came through the mirror. An image the mirror
// lacks says which mirror was asked.
func TestMirror(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithTLS(), testregistry.WithTokenAuth("robot", "proxy-pw", testregistry.TokenOptions{OnRegistryHost: true}))
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(must(name.ParseReference(reg.Host+"/dockerhub-proxy/library/postgres:17-alpine")), img, remoteOptions(reg)...); err != nil {
		t.Fatal(err)
	}
	docker := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("robot:proxy-pw"))
	os.WriteFile(filepath.Join(docker, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", docker)

	m, err := ParseMirror("docker.io=" + reg.Host + "/dockerhub-proxy")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(WithMirror(m), WithCAFile(reg.CAFile), WithRetry(1, 1e9))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetManifest(t.Context(), "docker.io/library/postgres:17-alpine")
	if err != nil {
		t.Fatalf("through the mirror: %v", err)
	}
	if want := must(img.Digest()).String(); got.Digest != want {
		t.Fatalf("digest %s, want %s", got.Digest, want)
	}
	layers := must(img.Layers())
	rc, err := c.OpenBlob(t.Context(), "docker.io/library/postgres", must(layers[1].Digest()).String(), must(layers[1].Size()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("blob through the mirror: %v", err)
	}
	rc.Close()
	if tags, err := c.ListTags(t.Context(), "docker.io/library/postgres"); err != nil || len(tags) != 1 || tags[0] != "17-alpine" {
		t.Errorf("tags through the mirror: %v, %v", tags, err)
	}
	_, err = c.GetManifest(t.Context(), "docker.io/library/redis:7.4")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "pulled through mirror "+reg.Host+"/dockerhub-proxy") {
		t.Errorf("an image the mirror lacks: %v", err)
	}
	// Without the Docker config's credentials the mirror refuses, and says so.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c, _ = New(WithMirror(m), WithCAFile(reg.CAFile), WithRetry(1, 1e9))
	if _, err := c.GetManifest(t.Context(), "docker.io/library/postgres:17-alpine"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("without credentials: %v", err)
	}
}
