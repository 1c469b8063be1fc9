package digests

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"go.yaml.in/yaml/v3"
)

// TestHelmValuesGolden renders the values for the ESS 24.08 list pushed to a local registry.
func TestHelmValuesGolden(t *testing.T) {
	images := local(parseTestdata(t, "images_digests.ess-2408.yml").Images)
	got, unmapped, err := HelmValues(images, DefaultHelmMap())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "helm-values.golden.yaml", got)

	// Checked apart from the golden file: every mapped image is where the map says, with its
	// digest; every other one is reported unmapped.
	var tree map[string]any
	if err := yaml.Unmarshal(got, &tree); err != nil {
		t.Fatal(err)
	}
	m := DefaultHelmMap()
	var wantUnmapped []string
	for _, im := range images {
		path, ok := m[im.Key()]
		if !ok {
			wantUnmapped = append(wantUnmapped, im.Key())
			continue
		}
		var n any = tree
		for _, seg := range strings.Split(path, ".") {
			n = n.(map[string]any)[seg]
		}
		want := map[string]any{"registry": "localregistry.local", "repository": im.Path, "tag": im.Tag, "digest": im.Digest}
		if !reflect.DeepEqual(n, want) {
			t.Errorf("%s at %s: %v, want %v", im.Key(), path, n, want)
		}
	}
	if !slices.Equal(unmapped, wantUnmapped) {
		t.Errorf("unmapped %v, want %v", unmapped, wantUnmapped)
	}
	if !slices.Contains(unmapped, "adminbot.haproxy") || slices.Contains(unmapped, "synapse.haproxy") {
		t.Errorf("unmapped: %v", unmapped)
	}

	// The order of the input does not matter.
	shuffled := slices.Clone(images)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	again, _, err := HelmValues(shuffled, DefaultHelmMap())
	if err != nil || string(again) != string(got) {
		t.Errorf("shuffled input gave different output (err %v)", err)
	}
}

func TestHelmValuesNesting(t *testing.T) {
	const d = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	images := []Image{
		{Entry: imageref.Entry{Component: "element_call", Container: "sfu", Server: "reg:5000", Path: "ess/livekit", Tag: "1.10"}, Digest: d},
		{Entry: imageref.Entry{Component: "element_call", Container: "jwt", Server: "reg:5000", Path: "ess/jwt"}, Digest: d},
	}
	got, unmapped, err := HelmValues(images, DefaultHelmMap())
	if err != nil {
		t.Fatal(err)
	}
	body := got[strings.Index(string(got), "matrixRTC:"):]
	want := `matrixRTC:
  image:
    registry: reg:5000
    repository: ess/jwt
    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
  sfu:
    image:
      registry: reg:5000
      repository: ess/livekit
      tag: "1.10"
      digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
`
	if string(body) != want || len(unmapped) != 0 {
		t.Errorf("got (unmapped %v):\n%s\nwant:\n%s", unmapped, got, want)
	}
}

func TestHelmValuesErrors(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	a := Image{Entry: imageref.Entry{Component: "a", Container: "x", Server: "reg", Path: "p", Tag: "1"}, Digest: d1}
	b := Image{Entry: imageref.Entry{Component: "b", Container: "x", Server: "reg", Path: "p", Tag: "1"}, Digest: d1}
	noDigest := a
	noDigest.Digest = ""
	other := b
	other.Digest = d2
	both := HelmMap{"a.x": "one.image", "b.x": "one.image"}
	for _, tc := range []struct {
		name   string
		images []Image
		m      HelmMap
		want   error // nil: no error
	}{
		{"same image twice on one path", []Image{a, b}, both, nil},
		{"two images on one path", []Image{a, other}, both, ErrInvalidHelmMap},
		{"no digest", []Image{noDigest}, HelmMap{"a.x": "one.image"}, ErrNoDigest},
		{"no digest, unmapped", []Image{noDigest}, HelmMap{}, ErrNoDigest},
		{"path through an image field", []Image{a}, HelmMap{"a.x": "one.image.registry"}, ErrInvalidHelmMap},
		{"bad path", []Image{a}, HelmMap{"a.x": "one..image"}, ErrInvalidHelmMap},
		{"bad key", []Image{a}, HelmMap{"ax": "one.image"}, ErrInvalidHelmMap},
		{"invalid image", []Image{{Entry: imageref.Entry{Component: "a", Container: "x", Server: "reg", Path: "UPPER"}, Digest: d1}}, HelmMap{}, ErrInvalidList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := HelmValues(tc.images, tc.m)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseHelmMap(t *testing.T) {
	m, err := ParseHelmMap("map.yaml", []byte("# ours\nsynapse.redis: synapse.redis.image\nsynapse.haproxy: null\nelement_web.element_web: ''\nextra.thing: extra.image\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := HelmMap{"synapse.redis": "synapse.redis.image", "synapse.haproxy": "", "element_web.element_web": "", "extra.thing": "extra.image"}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	merged := DefaultHelmMap().Merge(m)
	if merged["synapse.redis"] != "synapse.redis.image" || merged["extra.thing"] != "extra.image" || merged["synapse.synapse"] != "synapse.image" {
		t.Errorf("merge: %v", merged)
	}
	if _, ok := merged["synapse.haproxy"]; ok {
		t.Errorf("a null path did not unmap synapse.haproxy")
	}
	if DefaultHelmMap()["synapse.haproxy"] != "haproxy.image" {
		t.Errorf("Merge modified the built-in map")
	}
	if empty, err := ParseHelmMap("empty.yaml", nil); err != nil || len(empty) != 0 {
		t.Errorf("empty file: %v, %v", empty, err)
	}

	for _, tc := range []struct{ name, in, line string }{
		{"not a mapping", "- a\n", "bad.yaml:1:"},
		{"bad key", "ok.key: a.image\nnokey: a.image\n", "bad.yaml:2:"},
		{"duplicate", "a.x: a.image\na.x: b.image\n", "bad.yaml:2:"},
		{"number path", "a.x: 12\n", "bad.yaml:1:"},
		{"nested value", "a.x:\n  b: c\n", "bad.yaml:2:"},
		{"field in path", "a.x: a.image.digest\n", "bad.yaml:1:"},
		{"malformed", "a.x: [\n", "bad.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHelmMap("bad.yaml", []byte(tc.in))
			if !errors.Is(err, ErrInvalidHelmMap) || !strings.HasPrefix(err.Error(), tc.line) {
				t.Errorf("err = %v, want ErrInvalidHelmMap at %s", err, tc.line)
			}
		})
	}
}
