package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// plainFileBundle writes a bundle of one layer and the given plain files (after it), with the
// manifest m changed by edit before it is written, and returns its path.
func plainFileBundle(t *testing.T, dir string, files map[string][]byte, exec map[string]bool, edit func(*Manifest)) string {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	layer := []byte("a layer")
	plan := testPlan(t, created, layer)
	var m Manifest
	json.Unmarshal(plan[0].Data, &m)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for _, n := range names {
		d := verify.Digest(files[n])
		m.Files = append(m.Files, PlainFile{Name: n, Digest: d, Size: int64(len(files[n])), Executable: exec[n]})
		plan = append(plan, Entry{Name: n, Digest: d, Size: int64(len(files[n])), Executable: exec[n]})
	}
	if edit != nil {
		edit(&m)
	}
	mj, _ := json.Marshal(m)
	plan[0] = Entry{Name: ManifestName, Digest: verify.Digest(mj), Size: int64(len(mj)), Data: mj}
	path := filepath.Join(dir, "f.tar.zst")
	w, err := Create(path, created, plan)
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, layer)
	for _, n := range names {
		if err := w.WriteEntry(context.Background(), n, verify.NewReader(bytes.NewReader(files[n]), verify.Digest(files[n]), int64(len(files[n])))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPlainFiles: a plain file is an entry at the top of the tar that tar -x extracts by name
// (a binary with mode 0755), read back verified, checked by Verify; a manifest that lists a
// file the bundle lacks, one with an unsafe name, or one listed twice, is refused at Open,
// and so is an entry the manifest does not list.
func TestPlainFiles(t *testing.T) {
	dir := t.TempDir()
	bin := bytes.Repeat([]byte("\x7fELF binary "), 30000)
	files := map[string][]byte{"unbundle-linux-amd64": bin, "values.yaml": []byte("server: x\n")}
	path := plainFileBundle(t, dir, files, map[string]bool{"unbundle-linux-amd64": true}, nil)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	for n, data := range files {
		got, err := b.ReadFile(n)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v", n, err)
		}
	}
	if len(b.Manifest().Files) != 2 {
		t.Errorf("manifest files: %+v", b.Manifest().Files)
	}
	b.Close()
	if res, err := verifyPath(context.Background(), path, nil); err != nil || len(res.Bad) != 0 {
		t.Fatalf("Verify: %+v %v", res, err)
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", `zstd -dc "$1" | tar -x -C "$2" unbundle-linux-amd64`, "sh", path, out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | tar -x NAME: %v\n%s", err, o)
	}
	st, err := os.Stat(filepath.Join(out, "unbundle-linux-amd64"))
	if got, _ := os.ReadFile(filepath.Join(out, "unbundle-linux-amd64")); err != nil || !bytes.Equal(got, bin) || st.Mode().Perm()&0o111 == 0 {
		t.Errorf("extracted by tar: %v, mode %v", err, st)
	}

	for name, edit := range map[string]func(*Manifest){
		"a file the bundle lacks": func(m *Manifest) {
			m.Files = append(m.Files, PlainFile{Name: "extra", Digest: verify.Digest([]byte("x")), Size: 1})
		},
		"a path":        func(m *Manifest) { m.Files[0].Name = "../evil" },
		"a layout name": func(m *Manifest) { m.Files[0].Name = IndexName },
		"listed twice":  func(m *Manifest) { m.Files = append(m.Files, m.Files[0]) },
		"a bad digest":  func(m *Manifest) { m.Files[0].Digest = "sha256:xyz" },
		"not listed":    func(m *Manifest) { m.Files = m.Files[:1] },
	} {
		t.Run(name, func(t *testing.T) {
			p := plainFileBundle(t, t.TempDir(), map[string][]byte{"a.txt": []byte("a"), "b.txt": []byte("b")}, nil, edit)
			if _, err := openPath(p); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
		})
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "blobs", "bundle.json", strings.Repeat("x", 256)} {
		if CheckFileName(bad) == nil {
			t.Errorf("CheckFileName(%q) passed", bad)
		}
	}
}
