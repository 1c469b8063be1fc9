package e2e

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archivetest"
)

// TestHiddenContentRefused: a bundle made byte by byte whose index.json entry holds, after its
// data, a second index.json and a symlink to /etc (what `zstd -dc | tar -x` would extract), with
// a checksum file that sha256sum -c accepts, is refused with exit 3 by unbundle verify and
// bundle sign, naming the entry.
func TestHiddenContentRefused(t *testing.T) {
	t.Parallel()
	l := archivetest.Layout{Blobs: []archivetest.BlobRecord{{Data: []byte(`{"schemaVersion":2}`), Kind: archive.KindManifest}}}
	es := l.Entries()
	other := []byte(`{"schemaVersion":2,"manifests":[]}` + "\n")
	es[2].After = archivetest.Tar(
		archivetest.TarEntry{Header: archivetest.File("index.json", int64(len(other))), Data: other},
		archivetest.TarEntry{Header: &tar.Header{Typeflag: tar.TypeSymlink, Name: "etc", Linkname: "/etc"}})
	dir := t.TempDir()
	path := filepath.Join(dir, "hostile.tar.zst")
	data, err := archivetest.Write(path, es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archivetest.WriteSums(path, data); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", "cd "+dir+" && sha256sum -c hostile.tar.zst.sha256").CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out) // the checksum alone says nothing of the content
	}
	key, _ := sshKey(t, t.TempDir(), "release")
	for _, c := range []struct {
		prog string
		args []string
	}{{"unbundle", []string{"verify", path}}, {"bundle", []string{"verify", path}}, {"bundle", []string{"sign", "--key", key, path}}} {
		r := runCmd(c.prog, nil, c.args...)
		if r.code != 3 || !strings.Contains(r.stderr, "index.json") || !strings.Contains(r.stderr, "decodes to more than") {
			t.Fatalf("%s %v: exit %d\n%s%s", c.prog, c.args, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(path + ".sha256.sig"); err == nil {
		t.Fatal("bundle sign signed it")
	}
}
