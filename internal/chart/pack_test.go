package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (slash paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// entries lists a .tgz's headers.
func entries(t *testing.T, archive []byte) []*tar.Header {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// TestPack: a directory is packaged under a top directory named after the chart (not the
// directory), files sorted, mode 0644, time zero, hidden files and directories left out; a
// change of a file's time or mode on disk does not change the archive.
func TestPack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checkout")
	writeTree(t, dir, map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: demo\nversion: 1.2.3\n",
		"values.yaml":            "a: 1\n",
		"templates/b.yaml":       "kind: B\n",
		"templates/a.yaml":       "kind: A\n",
		".helmignore":            "*.bak\n",
		".git/config":            "[core]\n",
		"templates/.a.yaml.swp":  "swap",
		"templates/.cache/x.txt": "x",
	})
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "demo" || c.Version != "1.2.3" || string(c.Values) != "a: 1\n" {
		t.Fatalf("%s %s, values %q", c.Name, c.Version, c.Values)
	}
	var names []string
	for _, h := range entries(t, c.Archive) {
		names = append(names, h.Name)
		if h.Mode != 0o644 || !h.ModTime.Equal(time.Unix(0, 0)) || h.Typeflag != tar.TypeReg {
			t.Errorf("%s: mode %o, time %s, type %c", h.Name, h.Mode, h.ModTime, h.Typeflag)
		}
	}
	want := []string{"demo/Chart.yaml", "demo/templates/a.yaml", "demo/templates/b.yaml", "demo/values.yaml"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "values.yaml"), later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "templates", "a.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Archive, c.Archive) {
		t.Error("the archive changed with a file's time or mode")
	}
	writeTree(t, dir, map[string]string{"values.yaml": "a: 2\n"})
	if changed, err := Load(dir); err != nil || bytes.Equal(changed.Archive, c.Archive) {
		t.Errorf("the archive did not change with a file's content (%v)", err)
	}
}

// TestPackRefuses: a directory without a usable Chart.yaml, or with a subchart, is refused
// with ErrInvalidChart naming the directory; a missing path is the file system's error.
func TestPackRefuses(t *testing.T) {
	meta := "apiVersion: v2\nname: demo\nversion: 1.0.0\n"
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no Chart.yaml", map[string]string{"values.yaml": "a: 1\n"}, "Chart.yaml"},
		{"no name", map[string]string{"Chart.yaml": "apiVersion: v2\nversion: 1.0.0\n"}, "no usable name"},
		{"name with a slash", map[string]string{"Chart.yaml": "apiVersion: v2\nname: ../evil\nversion: 1.0.0\n"}, "no usable name"},
		{"name with a backslash", map[string]string{"Chart.yaml": "apiVersion: v2\nname: 'a\\b'\nversion: 1.0.0\n"}, "no usable name"},
		{"Chart.yaml not YAML", map[string]string{"Chart.yaml": "name: [\n"}, "no usable name"},
		{"Chart.yaml an alias bomb", map[string]string{"Chart.yaml": meta + aliasBomb("annotations")}, "aliases"},
		{"subchart", map[string]string{"Chart.yaml": meta, "charts/sub/Chart.yaml": meta}, "subcharts are not supported"},
		{"no version", map[string]string{"Chart.yaml": "apiVersion: v2\nname: demo\n"}, "version are required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, c.files)
			_, err := Load(dir)
			if !errors.Is(err, ErrInvalidChart) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("got %v, want ErrInvalidChart naming %s and saying %q", err, dir, c.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing chart: %v", err)
	}
	notChart := filepath.Join(t.TempDir(), "c.tgz")
	os.WriteFile(notChart, []byte("plain text"), 0o600)
	if _, err := Load(notChart); !errors.Is(err, ErrInvalidChart) || !strings.Contains(err.Error(), notChart) {
		t.Errorf("a file that is not a chart: %v", err)
	}
}

// TestReadEntries: what Read accepts of an archive's entries: "./" prefixes, directories and
// links (skipped, not followed), numeric versions, an empty dependency list, no values.yaml.
func TestReadEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	meta := "apiVersion: v2\nname: c\nversion: 2\ndependencies: []\n"
	tw.WriteHeader(&tar.Header{Name: "./c/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./c/Chart.yaml", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(meta))})
	tw.Write([]byte(meta))
	tw.WriteHeader(&tar.Header{Name: "c/values.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	tw.WriteHeader(&tar.Header{Name: "/etc/x", Typeflag: tar.TypeLink, Linkname: "c/Chart.yaml"})
	tw.Close()
	zw.Close()
	c, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "c" || c.Version != "2" || c.Values != nil || c.ValuesName() != "c/values.yaml" {
		t.Errorf("%+v", c)
	}
	if !bytes.Equal(c.Archive, buf.Bytes()) {
		t.Error("the archive is not kept as given")
	}
}

// TestReadRefusesMore: hostile and broken archives, each refused with ErrInvalidChart and a
// message naming what is wrong.
func TestReadRefusesMore(t *testing.T) {
	meta := "apiVersion: v2\nname: c\nversion: 1.0.0\n"
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"absolute path", map[string]string{"/c/Chart.yaml": meta}, "not under the chart's directory"},
		{"escaping after clean", map[string]string{"c/../../x/Chart.yaml": meta}, "not under the chart's directory"},
		{"no apiVersion", map[string]string{"c/Chart.yaml": "name: c\nversion: 1.0.0\n"}, "apiVersion, name and version are required"},
		{"name not a string", map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: [a]\nversion: 1.0.0\n"}, "apiVersion, name and version are required"},
		{"version a mapping", map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: {a: 1}\n"}, "apiVersion, name and version are required"},
		{"dependencies not a list", map[string]string{"c/Chart.yaml": meta + "dependencies: x\n"}, "dependencies are not supported"},
		{"Chart.yaml not YAML", map[string]string{"c/Chart.yaml": "name: [\n"}, "c/Chart.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(tgz(t, c.files))
			if !errors.Is(err, ErrInvalidChart) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalidChart saying %q", err, c.want)
			}
		})
	}
	truncated := tgz(t, map[string]string{"c/Chart.yaml": meta, "c/values.yaml": strings.Repeat("a: 1\n", 1000)})
	if _, err := Read(truncated[:len(truncated)/2]); !errors.Is(err, ErrInvalidChart) {
		t.Errorf("a truncated archive: %v", err)
	}
}

// TestReadSizeLimits: a file over 5 MiB, or files over 100 MiB in all, are refused from their
// headers, before their content is read.
func TestReadSizeLimits(t *testing.T) {
	meta := "apiVersion: v2\nname: c\nversion: 1.0.0\n"
	build := func(sizes ...int64) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: "c/Chart.yaml", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(meta))})
		tw.Write([]byte(meta))
		zeros := make([]byte, maxFileSize+1)
		for i, n := range sizes {
			tw.WriteHeader(&tar.Header{Name: "c/templates/f" + string(rune('a'+i)), Typeflag: tar.TypeReg, Mode: 0o644, Size: n})
			tw.Write(zeros[:n])
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	if _, err := Read(build(maxFileSize)); err != nil {
		t.Fatalf("a file of exactly 5 MiB: %v", err)
	}
	if _, err := Read(build(maxFileSize + 1)); !errors.Is(err, ErrInvalidChart) || !strings.Contains(err.Error(), "c/templates/fa: over 5 MiB") {
		t.Errorf("a file over 5 MiB: %v", err)
	}
	sizes := make([]int64, maxArchiveSize/maxFileSize+1)
	for i := range sizes {
		sizes[i] = maxFileSize
	}
	if _, err := Read(build(sizes...)); !errors.Is(err, ErrInvalidChart) || !strings.Contains(err.Error(), "100 MiB in all") {
		t.Errorf("files over 100 MiB in all: %v", err)
	}
}
