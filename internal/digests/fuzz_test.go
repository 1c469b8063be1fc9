package digests

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is a located
// ErrInvalidList, and that every list it accepts survives Marshal/Parse (and, when every entry has
// a digest, ConfigMap/ParseConfigMap) unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("c:\n  x:\n    image_repository_server: docker.io\n    image_repository_path: a\n    image_tag: 1.10\n"))
	f.Add([]byte("c: {x: {image_repository_server: '[::1]:5000', image_repository_path: a/b, image_digest: " + d1 + "}}\n"))
	f.Add([]byte("images_digests:\n  c:\n    x: &a\n      image_tag: 5\n    y: *a\n"))
	f.Add([]byte("a:\n  b: c\n d: e\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse("fuzz.yml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidList) {
				t.Fatalf("error does not match ErrInvalidList: %v", err)
			}
			var le *ListError
			if !errors.As(err, &le) {
				t.Fatalf("error is no *ListError: %v", err)
			}
			if errors.Is(err, ErrSyntax) && (le.Line < 1 || le.Column < 1) {
				t.Fatalf("syntax error without line:column: %v", err)
			}
			return
		}
		if len(l.Images) == 0 {
			t.Fatal("no error and no images")
		}
		out, err := Marshal(l.Images)
		if err != nil {
			t.Fatalf("Marshal of a parsed list: %v", err)
		}
		back, err := Parse("marshalled.yml", out)
		if err != nil {
			t.Fatalf("Parse of Marshal: %v\n%s", err, out)
		}
		if got, want := withoutLines(back.Images), withoutLines(l.Images); !slices.Equal(got, want) {
			t.Fatalf("Marshal/Parse changed the list:\n got %+v\nwant %+v\n%s", got, want, out)
		}
		if slices.ContainsFunc(l.Images, func(img Image) bool { return img.Digest == "" }) {
			return
		}
		cm, err := ConfigMap("local-images-digests", "element-onprem", l.Images)
		if err != nil {
			t.Fatalf("ConfigMap: %v", err)
		}
		images, err := ParseConfigMap(cm)
		if err != nil {
			t.Fatalf("ParseConfigMap: %v\n%s", err, cm)
		}
		if got, want := withoutLines(images), withoutLines(l.Images); !slices.Equal(got, want) {
			t.Fatalf("ConfigMap/ParseConfigMap changed the list:\n got %+v\nwant %+v\n%s", got, want, cm)
		}
	})
}
