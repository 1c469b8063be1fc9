package digests

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// local returns images pointed at the local registry, as a push would.
func local(images []Image) []Image {
	out := withoutLines(images)
	for i := range out {
		out[i].Server = "localregistry.local"
	}
	return out
}

func TestConfigMapGolden(t *testing.T) {
	images := local(parseTestdata(t, "images_digests.example.yml").Images)
	got, err := ConfigMap("local-images-digests", "element-onprem", images)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "configmap.golden.yaml", got)

	back, err := ParseConfigMap(got)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(withoutLines(back), images) {
		t.Errorf("ParseConfigMap:\n got %+v\nwant %+v", back, images)
	}
	// Lines count in the ConfigMap: adminbot.access_element_web is on line 9.
	if back[0].Key() != "adminbot.access_element_web" || back[0].Line != 9 {
		t.Errorf("first image %s at line %d, want adminbot.access_element_web at 9", back[0].Key(), back[0].Line)
	}
}

func TestConfigMapRoundTrip(t *testing.T) {
	for _, file := range []string{"images_digests.ess-2310.yml", "images_digests.ess-2408.yml"} {
		t.Run(file, func(t *testing.T) {
			images := local(parseTestdata(t, file).Images)
			images[0].Tag = "1.10" // YAML would read it as a number unquoted
			cm, err := ConfigMap("local-images-digests", "element-onprem", images)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cm), `image_tag: "1.10"`) {
				t.Errorf("tag 1.10 not quoted:\n%s", cm)
			}
			back, err := ParseConfigMap(cm)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(withoutLines(back), images) {
				t.Errorf("round trip changed the images:\n got %+v\nwant %+v", back, images)
			}
		})
	}
}

func TestConfigMapInvalid(t *testing.T) {
	good := Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: "localregistry.local", Path: "a", Tag: "t"}, Digest: d1}
	noDigest := good
	noDigest.Container, noDigest.Digest = "y", ""
	tests := []struct {
		name, cmName, namespace string
		images                  []Image
		is                      error
		key                     string
	}{
		{"no digest", "local-images-digests", "element-onprem", []Image{good, noDigest}, ErrNoDigest, "c.y"},
		{"name with underscore", "local_images", "element-onprem", []Image{good}, ErrInvalidName, ""},
		{"name too long", strings.Repeat("a", 254), "element-onprem", []Image{good}, ErrInvalidName, ""},
		{"namespace with dot", "local-images-digests", "element.onprem", []Image{good}, ErrInvalidName, ""},
		{"namespace uppercase", "local-images-digests", "Element", []Image{good}, ErrInvalidName, ""},
		{"empty namespace", "local-images-digests", "", []Image{good}, ErrInvalidName, ""},
		{"no images", "local-images-digests", "element-onprem", nil, ErrEmptyList, ""},
		{"bad path", "local-images-digests", "element-onprem", []Image{{Entry: imageref.Entry{Component: "c", Container: "x", Server: "s", Path: "A"}, Digest: d1}}, ErrInvalidList, "c.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ConfigMap(tt.cmName, tt.namespace, tt.images)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.is, out)
			}
			if tt.key != "" {
				if les := listErrors(err); len(les) == 0 || les[0].Key != tt.key {
					t.Errorf("err = %v, want a *ListError for %s", err, tt.key)
				}
			}
		})
	}
}

func TestParseConfigMapInvalid(t *testing.T) {
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\n  namespace: ns\ndata:\n  images_digests: |\n"
	entry := func(fields ...string) string {
		return "    c:\n      x:\n        " + strings.Join(fields, "\n        ") + "\n"
	}
	full := []string{"image_digest: " + d1, "image_repository_path: a", "image_repository_server: s", "image_tag: t"}
	tests := []struct {
		name string
		text string
		is   error
		line int // of the *ListError, 0 for none
	}{
		{"valid", head + entry(full...), nil, 0},
		{"kind", strings.Replace(head, "ConfigMap", "Secret", 1) + entry(full...), ErrInvalidConfigMap, 0},
		{"apiVersion", strings.Replace(head, "v1", "v2", 1) + entry(full...), ErrInvalidConfigMap, 0},
		{"no namespace", strings.Replace(head, "  namespace: ns\n", "", 1) + entry(full...), ErrInvalidConfigMap, 0},
		{"no data", head[:strings.Index(head, "\ndata:")+1], ErrInvalidConfigMap, 0},
		{"data not a string", strings.TrimSuffix(head, " |\n") + "\n" + entry(full...), ErrInvalidConfigMap, 0},
		{"empty component", head + "    c: {}\n", ErrInvalidList, 8},
		{"no digest", head + entry(full[1:]...), ErrNoDigest, 9},
		{"bad digest", head + entry(append([]string{"image_digest: sha256:abc"}, full[1:]...)...), ErrInvalidList, 10},
		{"top-level key inside", head + "    images_digests:\n  " + strings.ReplaceAll(entry(full...), "\n    ", "\n      "), ErrInvalidList, 8},
		{"malformed", head + "    c: [\n", ErrSyntax, 0},
		{"not YAML mapping", "- a\n", ErrInvalidConfigMap, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfigMap([]byte(tt.text))
			if tt.is == nil {
				if err != nil {
					t.Fatalf("%v\n%s", err, tt.text)
				}
				return
			}
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.is, tt.text)
			}
			if les := listErrors(err); tt.line != 0 && (len(les) == 0 || les[0].Line != tt.line) {
				t.Errorf("err = %v, want a *ListError at line %d", err, tt.line)
			}
		})
	}
}
