package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestRealChartThroughMirror is issue 23's "done when", on a test chart with the features of
// the real matrix-stack (internal/fixture/testdata/real-stack): its 14 image blocks from
// ghcr.io, oci.element.io and docker.io, postgres.image written docker.io + postgres, one
// repository under two tags (matrix-authentication-service and its -debug for syn2mas),
// blocks of disabled components, and required values (serverName, ingress hosts) without which
// helm template fails. The chart and its images are published under their upstream names,
// which are not reachable from here, and reached only through a Harbor-like pull-through
// cache (TLS, token auth, a proxy project per upstream, a robot account in the Docker config):
//   - bundle create --mirror (and --dry-run, and bundle diff) carries the chart and every block,
//     recorded and printed under the upstream names;
//   - unbundle push without the site's values exits 0: the render check is skipped, saying
//     what the chart asks for and the check-values command to run;
//   - helm template with the site's values and the written values renders every image from
//     the local registry by digest, postgres at PREFIX/library/postgres; check-values agrees.
func TestRealChartThroughMirror(t *testing.T) {
	t.Parallel()
	helm := tool(t, "helm")
	dir := t.TempDir()
	cache := testregistry.StartT(t, testregistry.WithTLS(), testregistry.WithTokenAuth("robot", "cache-pw", testregistry.TokenOptions{OnRegistryHost: true}))
	projects := map[string]string{"ghcr.io": "ghcr-proxy", "oci.element.io": "element-proxy", "docker.io": "dockerhub-proxy"}
	rc, err := fixture.PushRealChart(context.Background(), fixture.Options{Registry: cache.Host, Size: 6 << 20, Seed: 2623,
		Transport: cache.Transport(), Username: cache.Username, Password: cache.Password}, filepath.Join(dir, "chart"), projects)
	if err != nil {
		t.Fatal(err)
	}
	docker := filepath.Join(dir, "docker")
	os.MkdirAll(docker, 0o700)
	auth := base64.StdEncoding.EncodeToString([]byte("robot:cache-pw"))
	os.WriteFile(filepath.Join(docker, "config.json"), []byte(`{"auths":{"`+cache.Host+`":{"auth":"`+auth+`"}}}`), 0o600)
	env := []string{"DOCKER_CONFIG=" + docker}
	mirrors := []string{"--ca-file", cache.CAFile}
	for _, m := range rc.Mirrors {
		mirrors = append(mirrors, "--mirror", m)
	}

	// The plan names the upstream images, never the cache.
	bundle := filepath.Join(dir, "ess.tar.zst")
	r := must(t, runCmdEnv("bundle", env, nil, append([]string{"create", "--chart", rc.Ref, "--dry-run", "--output", bundle}, mirrors...)...))
	for _, want := range []string{"postgres.image", "docker.io/library/postgres:17-alpine", "oci.element.io/synapse:v1.159.0",
		"ghcr.io/element-hq/matrix-authentication-service:1.6.0-debug", "plan for " + bundle + ": 15 containers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, cache.Host) {
		t.Errorf("the dry run names the cache:\n%s\n%s", r.stdout, r.stderr)
	}

	r = must(t, runCmdEnv("bundle", env, nil, append([]string{"create", "--chart", rc.Ref, "--output", bundle}, mirrors...)...))
	if strings.Contains(r.stdout+r.stderr, cache.Host) {
		t.Errorf("create names the cache:\n%s\n%s", r.stdout, r.stderr)
	}
	m := mustOpenManifest(t, bundle)
	if m.Chart == nil || m.Chart.Ref != rc.Ref || m.Chart.Digest != rc.Digest {
		t.Fatalf("chart record %+v, want %s %s", m.Chart, rc.Ref, rc.Digest)
	}
	carried := map[string]string{}
	for _, im := range m.Images {
		if im.ValuesPath != "" {
			carried[im.ValuesPath] = im.Server + "/" + im.Path + ":" + im.Tag + "@" + im.Digest
		} else if im.Server+"/"+im.Path != "ghcr.io/element-hq/ess-helm/matrix-stack" {
			t.Errorf("chart entry %s recorded at %s/%s", im.Key(), im.Server, im.Path)
		}
	}
	if len(carried) != 14 || len(rc.Images) != 14 {
		t.Errorf("%d blocks carried, %d in the chart; want 14", len(carried), len(rc.Images))
	}
	for _, up := range rc.Images {
		if want := up.Server + "/" + up.Path + ":" + up.Tag + "@" + up.Digest; carried[up.Container] != want {
			t.Errorf("%s: carried %s, want %s", up.Container, carried[up.Container], want)
		}
	}
	if got := carried["postgres.image"]; !strings.HasPrefix(got, "docker.io/library/postgres:17-alpine@") {
		t.Errorf("postgres.image carried as %s", got)
	}
	// bundle diff reads the chart through the cache too: nothing changed.
	r = must(t, runCmdEnv("bundle", env, nil, append([]string{"diff", rc.Ref, bundle}, mirrors...)...))
	if !strings.Contains(r.stdout, "0 added, 0 removed, 0 changed") {
		t.Errorf("diff of the chart and its bundle:\n%s", r.stdout)
	}

	// Push without the site's values: exit 0, the render check skipped with what to do.
	reg := secureRegistry(t)
	values := filepath.Join(dir, "local-values.yaml")
	r = must(t, runCmd("unbundle", []byte(reg.Password+"\n"), "push", "--registry", reg.Host+"/ess", "--ca-file", reg.CAFile,
		"--username", reg.Username, "--password-stdin", "--helm-values", values, "--helm", helm, bundle))
	t.Logf("push:\n%s", r.stderr)
	for _, want := range []string{"the 14 image blocks of chart matrix-stack 26.8.1",
		"render check skipped: chart matrix-stack 26.8.1 does not render without the site's values; it asks for:\n    serverName is required\n    synapse.ingress.host is required",
		"unbundle check-values --registry " + reg.Host + "/ess --helm-values " + values + " --values YOUR-VALUES.yaml " + bundle} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("push does not say %q:\n%s", want, r.stderr)
		}
	}
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^postgres:\n  image:\n    registry: ` + regexp.QuoteMeta(reg.Host) + `\n    repository: ess/library/postgres\n    tag: 17-alpine\n    digest: sha256:`).Match(data) {
		t.Errorf("postgres.image in the values:\n%s", data)
	}

	// With the site's values: every image from the local registry, by digest, served there.
	site := filepath.Join(rc.Dir, "ci", "all-enabled-values.yaml")
	rendered := run(t, dir, nil, helm, "template", "ess", rc.Dir, "-f", site, "-f", values)
	uses, err := chart.Uses([]byte(rendered))
	if err != nil {
		t.Fatal(err)
	}
	local := regexp.MustCompile(`^` + regexp.QuoteMeta(reg.Host) + `/ess/([a-z0-9/._-]+)@(sha256:[0-9a-f]{64})$`)
	images := map[string]bool{}
	for _, u := range uses {
		images[u.Image] = true
		mm := local.FindStringSubmatch(u.Image)
		if mm == nil {
			t.Errorf("%s runs %s, not from %s/ess by digest", u, u.Image, reg.Host)
			continue
		}
		if served := headDigest(t, reg, reg.Host+"/ess/"+mm[1]+"@"+mm[2]); served != mm[2] {
			t.Errorf("%s: registry serves %s for %s", u, served, u.Image)
		}
	}
	if len(images) != 14 || !strings.Contains(rendered, reg.Host+"/ess/library/postgres@sha256:") {
		t.Errorf("%d containers, %d images rendered; want 14 images, postgres at ess/library/postgres", len(uses), len(images))
	}
	r = must(t, runCmd("unbundle", []byte(reg.Password+"\n"), "check-values", "--registry", reg.Host+"/ess", "--ca-file", reg.CAFile,
		"--username", reg.Username, "--password-stdin", "--helm", helm, "--helm-values", values, "--values", site, bundle))
	if !strings.Contains(r.stderr, "14 images, every one from the local registry by digest") {
		t.Errorf("check-values:\n%s", r.stderr)
	}
}
