package create

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
)

func writeTemp(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }

// TestDescribeFiles: every file is read once for its digest and size, in order; a name that
// is not one safe file name, a name given twice, a directory and a file that is not there are
// refused, naming the file.
func TestDescribeFiles(t *testing.T) {
	a := writeTemp(t, "install.sh", "#!/bin/sh\necho hi\n", 0o755)
	b := writeTemp(t, "values.yaml", "serverName: example.com\n", 0o644)
	empty := writeTemp(t, "empty", "", 0o644)
	got, err := describeFiles(t.Context(), []File{{Path: a, Name: "install.sh", Executable: true}, {Path: b, Name: "site-values.yaml"}, {Path: empty, Name: "empty"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []archive.PlainFile{
		{Name: "install.sh", Digest: sha("#!/bin/sh\necho hi\n"), Size: 18, Executable: true},
		{Name: "site-values.yaml", Digest: sha("serverName: example.com\n"), Size: 24},
		{Name: "empty", Digest: sha(""), Size: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("file %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		files []File
		says  []string
	}{
		{"a path for a name", []File{{Path: a, Name: "../etc/passwd"}}, []string{a, "one file name"}},
		{"a layout name", []File{{Path: a, Name: archive.ManifestName}}, []string{a, "layout"}},
		{"a name twice", []File{{Path: a, Name: "x"}, {Path: b, Name: "x"}}, []string{b, "another file is named x"}},
		{"a directory", []File{{Path: dir, Name: "d"}}, []string{dir, "not a regular file"}},
		{"a file not there", []File{{Path: filepath.Join(dir, "nope"), Name: "nope"}}, []string{filepath.Join(dir, "nope")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := describeFiles(t.Context(), tc.files)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%v: does not say %q", err, s)
				}
			}
		})
	}
}

// TestHashFileCancelled: reading a file for its digest stops once the run is cancelled.
func TestHashFileCancelled(t *testing.T) {
	p := writeTemp(t, "big", strings.Repeat("x", 1<<20), 0o644)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := hashFile(ctx, p); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v", err)
	}
	r := ctxReader{ctx, strings.NewReader("data")}
	if n, err := r.Read(make([]byte, 4)); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("read %d, %v", n, err)
	}
	r = ctxReader{t.Context(), strings.NewReader("data")}
	if data, err := io.ReadAll(r); err != nil || string(data) != "data" {
		t.Errorf("read %q, %v", data, err)
	}
}

// TestCreateFiles: plain files are carried after the images, each an entry of its own with
// the digest and size the manifest records, executable as asked.
func TestCreateFiles(t *testing.T) {
	_, images := tinyWorld(t, 61)
	script := writeTemp(t, "install.sh", "#!/bin/sh\nexit 0\n", 0o755)
	values := writeTemp(t, "values.yaml", "a: 1\n", 0o644)
	out := filepath.Join(t.TempDir(), "f.tar.zst")
	m := &meter{}
	res, err := createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: images[:1]}, Output: out, Progress: m,
		Files: []File{{Path: script, Name: "install.sh", Executable: true}, {Path: values, Name: "values.yaml"}}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := res.Manifest.Files; len(fs) != 2 || fs[0].Name != "install.sh" || !fs[0].Executable || fs[1].Executable || fs[1].Digest != sha("a: 1\n") {
		t.Fatalf("files %+v", fs)
	}
	if m.n.Load() != m.total.Load() || m.over.Load() {
		t.Errorf("progress %d of %d", m.n.Load(), m.total.Load())
	}
	b, err := trust.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for name, want := range map[string]string{"install.sh": "#!/bin/sh\nexit 0\n", "values.yaml": "a: 1\n"} {
		rc, err := b.OpenEntry(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(data) != want {
			t.Errorf("%s: %q, %v", name, data, err)
		}
	}

	_, err = createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: images[:1]},
		Files: []File{{Path: script, Name: "x"}, {Path: values, Name: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "another file is named x") {
		t.Errorf("two files of one name: %v", err)
	}
}
