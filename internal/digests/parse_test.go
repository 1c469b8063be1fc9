package digests

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

const (
	d1 = "sha256:1e7e1503ff73ae01af72dd27d9be387667dbbbcc53870ca02b3b02a1890696a9"
	d2 = "sha256:75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6"
)

// listErrors flattens err (joined or not) into its *ListError values.
func listErrors(err error) []*ListError {
	var out []*ListError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if le, ok := err.(*ListError); ok {
			out = append(out, le)
		}
	}
	walk(err)
	return out
}

// keys is the component.container of each image, in order.
func keys(images []Image) []string {
	var ks []string
	for _, img := range images {
		ks = append(ks, img.Key())
	}
	return ks
}

// withoutLines returns a copy of images with Line zeroed, to compare lists read from different text.
func withoutLines(images []Image) []Image {
	out := slices.Clone(images)
	for i := range out {
		out[i].Line = 0
	}
	return out
}

// entry is an images_digests.yml body (without top-level key) of one component "c" and container
// "x" whose fields are the given lines.
func entry(fields ...string) string {
	return "c:\n  x:\n" + "    " + strings.Join(fields, "\n    ") + "\n"
}

func TestParseFiles(t *testing.T) {
	tests := []struct {
		file     string
		count    int
		first    Image // Images[0]
		wantTags map[string]string
	}{
		{"images_digests.example.yml", 6,
			Image{imageref.Entry{Component: "adminbot", Container: "access_element_web", Server: "gitlab-registry.matrix.org",
				Path: "ems-image-store/enterprise/access-token-elementweb", Tag: "v1.11.45"}, d1, 6},
			map[string]string{"adminbot.pipe": "2.7.0", "auditbot.haproxy": "2.8-alpine"}},
		{"images_digests.ess-2310.yml", 35,
			Image{imageref.Entry{Component: "adminbot", Container: "access_element_web", Server: "gitlab-registry.matrix.org",
				Path: "ems-image-store/enterprise/access-token-elementweb", Tag: "v1.11.45"}, d1, 11},
			map[string]string{"matrix_content_scanner.clam_anti_virus": "1.1", "operator.operator": "2.12.1", "postgresql.postgresql": "15-alpine"}},
		{"images_digests.ess-2408.yml", 37,
			Image{imageref.Entry{Component: "adminbot", Container: "access_element_web", Server: "gitlab-registry.matrix.org",
				Path: "ems-image-store/enterprise/access-token-elementweb", Tag: "v1.11.69"}, "sha256:0b155782ca07d44828eb73a14d010ff594bc3eb79b57e8051805598c5a2eb589", 7},
			map[string]string{"element_call.jwt": "0.1.1", "operator.kube_rbac_proxy": "v0.18.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			l, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if l.File != path || len(l.Images) != tt.count {
				t.Fatalf("File %q, %d images; want %q, %d", l.File, len(l.Images), path, tt.count)
			}
			if l.Images[0] != tt.first {
				t.Errorf("Images[0] = %+v, want %+v", l.Images[0], tt.first)
			}
			if !slices.IsSortedFunc(l.Images, func(a, b Image) int { return strings.Compare(a.Key(), b.Key()) }) {
				t.Errorf("not sorted: %v", keys(l.Images))
			}
			for _, img := range l.Images {
				if want, ok := tt.wantTags[img.Key()]; ok && img.Tag != want {
					t.Errorf("%s: tag %q, want %q", img.Key(), img.Tag, want)
				}
				delete(tt.wantTags, img.Key())
			}
			if len(tt.wantTags) > 0 {
				t.Errorf("entries not found: %v", tt.wantTags)
			}
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join("testdata", "no-such.yml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestParseScalarsAsWritten(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unquoted float", "image_tag: 1.10", "1.10"},
		{"single quoted", "image_tag: '2.4'", "2.4"},
		{"double quoted", `image_tag: "1.1"`, "1.1"},
		{"unquoted version", "image_tag: 2.7.0", "2.7.0"},
		{"unquoted integer", "image_tag: 5", "5"},
		{"leading zero", "image_tag: 010", "010"},
		{"bool-like", "image_tag: true", "true"},
		{"exponent-like", "image_tag: 1e3", "1e3"},
		{"quoted null", "image_tag: 'null'", "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse("t.yml", []byte(entry(tt.yaml, "image_repository_path: a/b", "image_repository_server: docker.io")))
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Images[0].Tag; got != tt.want {
				t.Errorf("tag = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	body := entry("image_digest: "+d2, "image_repository_path: library/haproxy", "image_repository_server: docker.io", "image_tag: 2.8-alpine")
	wrapped := "images_digests:\n" + indent(body)
	want := []Image{{Entry: imageref.Entry{Component: "c", Container: "x", Server: "docker.io", Path: "library/haproxy", Tag: "2.8-alpine"}, Digest: d2}}
	for name, text := range map[string]string{"top-level key": wrapped, "components at top level": body} {
		t.Run(name, func(t *testing.T) {
			l, err := Parse("t.yml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if got := withoutLines(l.Images); !slices.Equal(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestParseInvalid(t *testing.T) {
	const (
		srv  = "image_repository_server: docker.io"
		path = "image_repository_path: library/haproxy"
		tag  = "image_tag: 2.8-alpine"
		dig  = "image_digest: " + d2
	)
	tests := []struct {
		name string
		text string
		is   error
		line int    // of the first problem
		key  string // of the first problem
	}{
		{"no server", entry(dig, path, tag), ErrInvalidList, 2, "c.x"},
		{"empty server", entry(dig, path, tag, "image_repository_server: ''"), ErrInvalidList, 6, "c.x"},
		{"null server", entry(dig, path, tag, "image_repository_server: ~"), ErrInvalidList, 6, "c.x"},
		{"no path", entry(dig, srv, tag), ErrInvalidList, 2, "c.x"},
		{"no tag nor digest", entry(srv, path), ErrInvalidList, 2, "c.x"},
		{"short digest", entry(srv, path, "image_digest: sha256:abc"), ErrInvalidList, 5, "c.x"},
		{"uppercase digest", entry(srv, path, "image_digest: "+strings.ToUpper(d2)), ErrInvalidList, 5, "c.x"},
		{"sha1 digest", entry(srv, path, "image_digest: sha1:"+strings.Repeat("a", 40)), ErrInvalidList, 5, "c.x"},
		{"tag with plus", entry(srv, path, "image_tag: 1.0+build"), ErrInvalidList, 5, "c.x"},
		{"tag starting with dot", entry(srv, path, "image_tag: .hidden"), ErrInvalidList, 5, "c.x"},
		{"tag too long", entry(srv, path, "image_tag: "+strings.Repeat("a", 129)), ErrInvalidList, 5, "c.x"},
		{"uppercase path", entry(srv, tag, "image_repository_path: Library/haproxy"), ErrInvalidList, 5, "c.x"},
		{"path with host", entry(srv, tag, "image_repository_path: docker.io:443/library/haproxy"), ErrInvalidList, 5, "c.x"},
		{"server with scheme", entry(path, tag, "image_repository_server: https://docker.io"), ErrInvalidList, 5, "c.x"},
		{"server with path", entry(path, tag, "image_repository_server: docker.io/library"), ErrInvalidList, 5, "c.x"},
		{"unknown key", entry(srv, path, tag, "image_pull_policy: Always"), ErrInvalidList, 6, "c.x"},
		{"duplicate key", entry(srv, path, tag, tag), ErrInvalidList, 6, "c.x"},
		{"field not scalar", entry(srv, path, "image_tag: [a]"), ErrInvalidList, 5, "c.x"},
		{"container not mapping", "c:\n  x: docker.io/library/haproxy\n", ErrInvalidList, 2, "c.x"},
		{"container null", "c:\n  x:\n", ErrInvalidList, 2, "c.x"},
		{"component not mapping", "c: [x]\n", ErrInvalidList, 1, "c"},
		{"component empty", "c: {}\n", ErrInvalidList, 1, "c"},
		{"component name with dot", "c.d:\n  x: {}\n", ErrInvalidList, 1, ""},
		{"duplicate container", entry(srv, path, tag) + "  x:\n    " + srv + "\n", ErrInvalidList, 6, "c.x"},
		{"root is a list", "- a\n", ErrInvalidList, 1, ""},
		{"key beside images_digests", "images_digests:\n" + indent(entry(srv, path, tag)) + "other: 1\n", ErrInvalidList, 7, ""},
		{"two documents", entry(srv, path, tag) + "---\n" + entry(srv, path, tag), ErrInvalidList, 6, ""},
		{"empty file", "", ErrEmptyList, 0, ""},
		{"comments only", "# nothing\n", ErrEmptyList, 0, ""},
		{"empty images_digests", "images_digests:\n", ErrEmptyList, 0, ""},
		{"empty mapping", "{}\n", ErrEmptyList, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse("t.yml", []byte(tt.text))
			if !errors.Is(err, tt.is) || !errors.Is(err, ErrInvalidList) {
				t.Fatalf("err = %v (list %v), want %v", err, l, tt.is)
			}
			les := listErrors(err)
			if len(les) == 0 {
				t.Fatalf("no *ListError in %v", err)
			}
			if le := les[0]; le.File != "t.yml" || le.Line != tt.line || le.Key != tt.key {
				t.Errorf("first problem at %s:%d key %q, want t.yml:%d key %q (%v)", le.File, le.Line, le.Key, tt.line, tt.key, err)
			}
		})
	}
}

func TestParseValidVariants(t *testing.T) {
	tests := map[string]string{
		"digest only":        entry("image_repository_server: docker.io", "image_repository_path: library/haproxy", "image_digest: "+d2),
		"tag only":           entry("image_repository_server: docker.io", "image_repository_path: library/haproxy", "image_tag: 2.8"),
		"sha512":             entry("image_repository_server: docker.io", "image_repository_path: a", "image_digest: sha512:"+strings.Repeat("0f", 64)),
		"server with port":   entry("image_repository_server: localhost:5000", "image_repository_path: a/b-c/d__e", "image_tag: x"),
		"ipv6 server":        entry("image_repository_server: '[::1]:5000'", "image_repository_path: a", "image_tag: x"),
		"null digest is not": entry("image_repository_server: docker.io", "image_repository_path: a", "image_tag: x", "image_digest: null"),
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("t.yml", []byte(text)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestParseDockerNames: entries are read as Docker reads them, so that the bundle records one
// name per image and the local paths follow it.
func TestParseDockerNames(t *testing.T) {
	text := "images_digests:\n  db:\n    postgres:\n      image_repository_server: docker.io\n      image_repository_path: postgres\n      image_tag: '17'\n" +
		"    redis:\n      image_repository_server: index.docker.io\n      image_repository_path: library/redis\n      image_tag: '7.4'\n" +
		"    other:\n      image_repository_server: ghcr.io\n      image_repository_path: postgres\n      image_tag: '1'\n"
	l, err := Parse("t.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range l.Images {
		got = append(got, im.Key()+"="+im.Ref())
	}
	want := []string{"db.other=ghcr.io/postgres:1", "db.postgres=docker.io/library/postgres:17", "db.redis=docker.io/library/redis:7.4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseReportsAll(t *testing.T) {
	text := "images_digests:\n" +
		"  synapse:\n" +
		"    synapse:\n" +
		"      image_digest: sha256:abc\n" +
		"      image_repository_path: matrixdotorg/synapse\n" +
		"      image_repository_server: docker.io\n" +
		"    redis:\n" +
		"      image_repository_server: docker.io\n" +
		"      image_tag: 7.2-alpine\n" +
		"      colour: red\n"
	_, err := Parse("images_digests.yml", []byte(text))
	got := []string{}
	for _, le := range listErrors(err) {
		got = append(got, le.Error())
	}
	want := []string{
		`images_digests.yml:4: synapse.synapse: image_digest "sha256:abc" is not a valid digest`,
		`images_digests.yml:7: synapse.redis: image_repository_path is missing or empty`,
		`images_digests.yml:10: synapse.redis: unknown key "colour"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line, col int
	}{
		{"over-indented key", "a:\n  b: c\n   d: e\n", 3, 5},
		{"under-indented key", "a:\n  b: c\n d: e\n", 3, 2},
		{"two colons", "a: b: c\n", 1, 5},
		{"tab indent", "a:\n\tb: c\n", 2, 1},
		{"unterminated quote", "a:\n  b: \"unterminated\n", 2, 6},
		{"list in mapping", "a:\n  b: c\n  - d\n", 3, 3},
		{"unknown alias", "a: &x 1\nb: *y\n", 2, 5},
		{"bad second document", "a: 1\n---\nb: c: d\n", 3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yml", []byte(tt.text))
			var le *ListError
			if !errors.Is(err, ErrSyntax) || !errors.Is(err, ErrInvalidList) || !errors.As(err, &le) {
				t.Fatalf("err = %v, want ErrSyntax in a *ListError", err)
			}
			if le.File != "bad.yml" || le.Line != tt.line || le.Column != tt.col {
				t.Errorf("at %s:%d:%d, want bad.yml:%d:%d (%v)", le.File, le.Line, le.Column, tt.line, tt.col, err)
			}
			if prefix := le.File + ":" + strconv.Itoa(le.Line) + ":" + strconv.Itoa(le.Column) + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("%q does not start with %q", err, prefix)
			}
		})
	}
}
