package digests

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

func TestMarshalRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("testdata: %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			l, err := ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(l.Images)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("marshalled.yml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got, want := withoutLines(back.Images), withoutLines(l.Images); !slices.Equal(got, want) {
				t.Errorf("round trip changed the list:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestMarshalText(t *testing.T) {
	img := func(comp, cont, tag, digest string) Image {
		return Image{Entry: imageref.Entry{Component: comp, Container: cont, Server: "docker.io", Path: "library/x", Tag: tag}, Digest: digest}
	}
	// Given unsorted: written sorted.
	images := []Image{
		img("synapse", "synapse", "1.10", d2),
		img("synapse", "redis", "5", ""),
		img("adminbot", "pipe", "2.7.0", ""),
		img("adminbot", "haproxy", "", d1),
		img("b", "c", "true", ""),
	}
	want := `images_digests:
  adminbot:
    haproxy:
      image_digest: ` + d1 + `
      image_repository_path: library/x
      image_repository_server: docker.io
    pipe:
      image_repository_path: library/x
      image_repository_server: docker.io
      image_tag: 2.7.0
  b:
    c:
      image_repository_path: library/x
      image_repository_server: docker.io
      image_tag: "true"
  synapse:
    redis:
      image_repository_path: library/x
      image_repository_server: docker.io
      image_tag: "5"
    synapse:
      image_digest: ` + d2 + `
      image_repository_path: library/x
      image_repository_server: docker.io
      image_tag: "1.10"
`
	out, err := Marshal(images)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	l, err := Parse("t.yml", out)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, img := range l.Images {
		tags[img.Key()] = img.Tag
	}
	if tags["synapse.synapse"] != "1.10" || tags["synapse.redis"] != "5" || tags["b.c"] != "true" {
		t.Errorf("tags read back: %v", tags)
	}
}

func TestMarshalInvalid(t *testing.T) {
	good := Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: "docker.io", Path: "a", Tag: "t"}}
	with := func(f func(*Image)) Image { i := good; f(&i); return i }
	tests := []struct {
		name   string
		images []Image
		is     error
		key    string
	}{
		{"empty", nil, ErrEmptyList, ""},
		{"duplicate", []Image{good, good}, ErrInvalidList, "c.x"},
		{"bad digest", []Image{with(func(i *Image) { i.Digest = "sha256:abc" })}, ErrInvalidList, "c.x"},
		{"no server", []Image{with(func(i *Image) { i.Server = "" })}, ErrInvalidList, "c.x"},
		{"no tag nor digest", []Image{with(func(i *Image) { i.Tag = "" })}, ErrInvalidList, "c.x"},
		{"container with dot", []Image{with(func(i *Image) { i.Container = "x.y" })}, ErrInvalidList, "c.x.y"},
		{"empty component", []Image{with(func(i *Image) { i.Component = "" })}, ErrInvalidList, ".x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Marshal(tt.images)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.is, out)
			}
			les := listErrors(err)
			if len(les) == 0 || les[0].Key != tt.key || strings.Contains(err.Error(), ":0:") {
				t.Errorf("err = %v, want a *ListError for %q", err, tt.key)
			}
		})
	}
}
