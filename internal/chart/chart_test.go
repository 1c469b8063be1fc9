package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testChart = "../fixture/testdata/mini-stack"

func loadTest(t *testing.T) *Chart {
	t.Helper()
	c, err := Load(testChart)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoadDirectory: a directory is packaged the same way every time, and the archive reads
// back as the same chart.
func TestLoadDirectory(t *testing.T) {
	a, b := loadTest(t), loadTest(t)
	if a.Name != "mini-stack" || a.Version != "0.3.0" || !bytes.Equal(a.Archive, b.Archive) {
		t.Fatalf("load: %s %s, archives equal %v", a.Name, a.Version, bytes.Equal(a.Archive, b.Archive))
	}
	again, err := Read(a.Archive)
	if err != nil || again.Name != a.Name || !bytes.Equal(again.Values, a.Values) || !bytes.Equal(again.Meta, a.Meta) {
		t.Fatalf("read back: %v", err)
	}
	if !strings.Contains(string(a.Meta), `"apiVersion":"v2"`) {
		t.Errorf("meta: %s", a.Meta)
	}
}

func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestReadRefuses(t *testing.T) {
	meta := "apiVersion: v2\nname: c\nversion: 1.0.0\n"
	for name, files := range map[string]map[string]string{
		"no Chart.yaml":   {"c/values.yaml": "a: 1\n"},
		"no version":      {"c/Chart.yaml": "apiVersion: v2\nname: c\n"},
		"subchart":        {"c/Chart.yaml": meta, "c/charts/sub/Chart.yaml": meta},
		"dependencies":    {"c/Chart.yaml": meta + "dependencies:\n- name: x\n"},
		"two top dirs":    {"c/Chart.yaml": meta, "d/values.yaml": ""},
		"escaping path":   {"c/Chart.yaml": meta, "../x": ""},
		"file at the top": {"Chart.yaml": meta},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Read(tgz(t, files)); !errors.Is(err, ErrInvalidChart) {
				t.Errorf("err = %v, want ErrInvalidChart", err)
			}
		})
	}
	if _, err := Read([]byte("not gzip")); !errors.Is(err, ErrInvalidChart) {
		t.Errorf("not gzip: %v", err)
	}
}

func TestImages(t *testing.T) {
	c := loadTest(t)
	blocks, err := Images(c)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, b := range blocks {
		paths = append(paths, b.Path)
	}
	want := []string{"hookshot.image", "matrixTools.image", "postgres.image", "synapse.image", "synapse.redis.exporter.image", "synapse.redis.image"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	pg := blocks[2]
	if pg.Tag != "17.5-alpine" || pg.Digest != "sha256:"+strings.Repeat("0", 64) || pg.Ref() != "upstream.invalid/library/postgres:17.5-alpine" {
		t.Errorf("postgres: %+v", pg)
	}
	if blocks[5].Tag != "7.4" {
		t.Errorf("a quoted numeric tag must stay as written: %q", blocks[5].Tag)
	}
	// An unquoted number that Helm prints as written is that tag.
	blocks, err = Images(c, ValuesFile{Name: "n.yaml", Data: []byte("synapse:\n  redis:\n    image:\n      tag: 8.2\n")})
	if err != nil || blocks[5].Tag != "8.2" {
		t.Errorf("tag: 8.2 unquoted: %v, %+v", err, blocks)
	}

	// The operator's values, in order: the later wins, null deletes, mappings merge.
	ops := []ValuesFile{
		{Name: "a.yaml", Data: []byte("synapse:\n  image:\n    registry: mirror.example\n    tag: v1\nhookshot:\n  enabled: true\n")},
		{Name: "b.yaml", Data: []byte("synapse:\n  image:\n    tag: v2\n    digest: sha256:" + strings.Repeat("a", 64) + "\nhookshot:\n  image: null\n")},
	}
	blocks, err = Images(c, ops...)
	if err != nil {
		t.Fatal(err)
	}
	var syn *Block
	for i, b := range blocks {
		if b.Path == "hookshot.image" {
			t.Errorf("null did not delete hookshot.image")
		}
		if b.Path == "synapse.image" {
			syn = &blocks[i]
		}
	}
	if syn == nil || syn.Registry != "mirror.example" || syn.Repository != "element-hq/synapse" || syn.Tag != "v2" || syn.Digest == "" {
		t.Fatalf("synapse.image after a.yaml, b.yaml: %+v", syn)
	}
	wantFrom := []string{"registry a.yaml:3", "repository mini-stack/values.yaml:29", "tag b.yaml:3", "digest b.yaml:4"}
	if !slices.Equal(syn.From, wantFrom) {
		t.Errorf("from %q, want %q", syn.From, wantFrom)
	}
}

// TestImagesDockerNames: blocks name images as Docker users write them (matrix-stack's
// postgres.image is registry docker.io, repository postgres): the block reads as Docker reads
// it, docker.io/library/postgres; index.docker.io and a block without registry too.
func TestImagesDockerNames(t *testing.T) {
	c := loadTest(t)
	blocks, err := Images(c, ValuesFile{Name: "docker.yaml", Data: []byte("postgres:\n  image:\n    registry: docker.io\n    repository: postgres\n    digest: null\n" +
		"synapse:\n  redis:\n    image:\n      registry: index.docker.io\n      repository: redis\n    exporter:\n      image:\n        registry: null\n        repository: oliver006/redis_exporter\n" +
		"hookshot:\n  image:\n    registry: ghcr.io\n    repository: hookshot\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"postgres.image": "docker.io/library/postgres:17.5-alpine", "synapse.redis.image": "docker.io/library/redis:7.4",
		"synapse.redis.exporter.image": "docker.io/oliver006/redis_exporter:v1.74.0", "hookshot.image": "ghcr.io/hookshot:7.1.0"}
	for _, b := range blocks {
		if w, ok := want[b.Path]; ok && b.Ref() != w {
			t.Errorf("%s: %s, want %s", b.Path, b.Ref(), w)
		}
	}
}

func TestImagesRefuses(t *testing.T) {
	c := loadTest(t)
	for name, tc := range map[string]struct {
		values string
		want   error
		says   []string
	}{
		"does not parse":     {"synapse: [\n", ErrInvalidValues, []string{"ops.yaml", "line 1"}},
		"not a mapping":      {"- a\n", ErrInvalidValues, []string{"ops.yaml:1"}},
		"no repository":      {"synapse:\n  image:\n    repository: null\n", ErrInvalidValues, []string{"mini-stack/values.yaml:28", "synapse.image", "without repository"}},
		"no tag nor digest":  {"hookshot:\n  image:\n    tag: \"\"\n", ErrInvalidValues, []string{"hookshot.image", "neither tag nor digest"}},
		"numeric tag":        {"synapse:\n  redis:\n    image:\n      tag: 1.10\n", ErrInvalidValues, []string{"ops.yaml:4", "synapse.redis.image", `quote it ("1.10")`}},
		"bool tag":           {"synapse:\n  redis:\n    image:\n      tag: true\n", ErrInvalidValues, []string{"synapse.redis.image", "read as bool"}},
		"bad digest":         {"synapse:\n  image:\n    digest: sha256:abc\n", ErrInvalidValues, []string{"ops.yaml:3", "synapse.image"}},
		"tag is a mapping":   {"synapse:\n  image:\n    tag: {a: b}\n", ErrInvalidValues, []string{"synapse.image", "tag must be a string"}},
		"every block nulled": {"matrixTools: null\nsynapse: null\npostgres: null\nhookshot: null\n", ErrNoImages, []string{"mini-stack 0.3.0", "ops.yaml"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Images(c, ValuesFile{Name: "ops.yaml", Data: []byte(tc.values)})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestLocalValues(t *testing.T) {
	d := "sha256:" + strings.Repeat("b", 64)
	out, err := LocalValues([]Block{
		{Path: "synapse.redis.image", Registry: "reg.local:5000", Repository: "ess/library/redis", Tag: "7.4", Digest: d},
		{Path: "synapse.image", Registry: "reg.local:5000", Repository: "ess/element-hq/synapse", Digest: d},
	}, []string{"local-registry"})
	if err != nil {
		t.Fatal(err)
	}
	want := `synapse:
  image:
    registry: reg.local:5000
    repository: ess/element-hq/synapse
    digest: ` + d + `
    pullSecrets:
      - name: local-registry
  redis:
    image:
      registry: reg.local:5000
      repository: ess/library/redis
      tag: "7.4"
      digest: ` + d + `
      pullSecrets:
        - name: local-registry
`
	if !strings.HasSuffix(string(out), want) || !strings.HasPrefix(string(out), "# ") {
		t.Errorf("got:\n%s\nwant (after the comment):\n%s", out, want)
	}
	if _, err := LocalValues([]Block{{Path: "a.image", Registry: "r", Repository: "p"}}, nil); !errors.Is(err, ErrInvalidValues) {
		t.Errorf("no digest: %v", err)
	}
}

// helmBinary finds helm on PATH or in GOPATH/bin (make tools installs it): a missing helm
// fails the test.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("helm is not installed (make tools installs it)")
	return ""
}

// TestRenderUses renders the test chart with the real helm, every component enabled, and
// finds every container: init containers, a job's, a cronjob's.
func TestRenderUses(t *testing.T) {
	c := loadTest(t)
	all, err := os.ReadFile(filepath.Join(testChart, "ci", "all-enabled-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	extra := "synapse:\n  extraInitContainers:\n  - name: wait\n    image: busybox:1.36\n"
	out, err := Render(context.Background(), c.Archive, RenderOptions{Helm: helmBinary(t),
		Values: []ValuesFile{{Name: "all.yaml", Data: all}, {Name: "extra.yaml", Data: []byte(extra)}}})
	if err != nil {
		t.Fatal(err)
	}
	uses, err := Uses(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.String()+" "+u.Image)
	}
	z := "sha256:" + strings.Repeat("0", 64)
	want := []string{
		"StatefulSet/ess-synapse initContainer wait busybox:1.36",
		"Job/ess-init-secrets container init-secrets upstream.invalid/element-hq/ess-helm/matrix-tools:0.10.0",
		"StatefulSet/ess-synapse initContainer render-config upstream.invalid/element-hq/ess-helm/matrix-tools:0.10.0",
		"StatefulSet/ess-synapse container synapse upstream.invalid/element-hq/synapse:v1.159.0",
		"CronJob/ess-postgres-backup container pg-dump upstream.invalid/library/postgres@" + z,
		"StatefulSet/ess-postgres container postgres upstream.invalid/library/postgres@" + z,
		"Deployment/ess-redis container redis upstream.invalid/library/redis:7.4",
		"Deployment/ess-hookshot container hookshot upstream.invalid/matrix-org/matrix-hookshot:7.1.0",
		"Deployment/ess-redis container exporter upstream.invalid/oliver006/redis_exporter:v1.74.0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// helm's own error, naming the file as given.
	_, err = Render(context.Background(), c.Archive, RenderOptions{Helm: helmBinary(t),
		Values: []ValuesFile{{Name: "broken.yaml", Data: []byte("synapse: [\n")}}})
	if !errors.Is(err, ErrRender) || errors.Is(err, ErrNoHelm) || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("broken values: %v", err)
	}
	if _, err := Render(context.Background(), c.Archive, RenderOptions{Helm: "/nonexistent/helm"}); !errors.Is(err, ErrNoHelm) || !errors.Is(err, ErrRender) ||
		!strings.Contains(err.Error(), `"/nonexistent/helm"`) || strings.Contains(err.Error(), "--helm") {
		t.Errorf("no helm: %v, want ErrNoHelm naming the binary (the flag is the command line's to name)", err)
	}
}

// TestChartRefusal: helm's message for a chart that refuses the values (a template's required
// or fail, the schema) says what the chart asked for; other failures are not that.
func TestChartRefusal(t *testing.T) {
	for msg, want := range map[string]string{
		"Error: execution error at (matrix-stack/templates/z_validation/validation.txt:12:4): serverName is required":                                          "serverName is required",
		"Error: values don't meet the specifications of the schema(s) in the following chart(s):\nmatrix-stack:\n- serverName: Invalid type. Expected: string": "serverName: Invalid type. Expected: string",
	} {
		if got, ok := chartRefusal(msg); !ok || strings.Join(got, "; ") != want {
			t.Errorf("chartRefusal(%q) = %q, %v; want %q", msg, got, ok, want)
		}
	}
	for _, msg := range []string{"Error: parse error at (x/templates/a.yaml:3): function \"nope\" not defined", "Error: open chart.tgz: no such file"} {
		if got, ok := chartRefusal(msg); ok {
			t.Errorf("chartRefusal(%q) = %q", msg, got)
		}
	}
}
