package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/archivetest"
)

// hiddenBundle is a small valid bundle: a manifest, a config and a layer, and the entries that
// tests change before writing it.
func hiddenBundle() []archivetest.Entry {
	return hiddenBundleWith(bytes.Repeat([]byte("layer "), 50000))
}

func hiddenBundleWith(layer []byte) []archivetest.Entry {
	l := archivetest.Layout{Blobs: []archivetest.BlobRecord{
		{Data: []byte(`{"schemaVersion":2}`), Kind: archive.KindManifest},
		{Data: []byte(`{"architecture":"amd64"}`), Kind: archive.KindConfig},
		{Data: layer, Kind: archive.KindLayer},
	}}
	es := l.Entries()
	es[len(es)-1].Raw = true // the layer, stored as bundle create stores one
	return es
}

// tarNames lists what `zstd -dc FILE | tar -t` finds in the file.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd not installed (make tools installs it)")
	}
	out, err := exec.Command("sh", "-c", "zstd -dc '"+path+"' | tar -tv").CombinedOutput()
	if err != nil {
		t.Fatalf("zstd -dc | tar -t: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestHiddenContent: an entry whose frames hold more than its header, data and padding - more
// decoded bytes after the data, more frames, more headers in its header frame, a header no
// writer of ours makes - is refused by every read: the one pass of verify (and so sign and
// repair's final check) and the random reads of list and push. Each of these bundles gives
// `zstd -dc | tar -x` something the offset table does not list (checked with tar itself), which
// is why the rule exists (docs/bundle-format.md, "Exactly what the table lists").
func TestHiddenContent(t *testing.T) {
	other := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1}]}`)
	index := func(es []archivetest.Entry) *archivetest.Entry { return &es[2] }
	layer := func(es []archivetest.Entry) *archivetest.Entry { return &es[len(es)-1] }
	hidden := func(hs ...archivetest.TarEntry) []byte { return archivetest.Tar(hs...) }
	secondIndex := archivetest.TarEntry{Header: archivetest.File("index.json", int64(len(other))), Data: other}
	symlink := archivetest.TarEntry{Header: &tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs/etc", Linkname: "/etc", Mode: 0o777}}
	device := archivetest.TarEntry{Header: &tar.Header{Typeflag: tar.TypeChar, Name: "blobs/mem", Mode: 0o666, Devmajor: 1, Devminor: 1}}
	img := []archivetest.TarEntry{
		{Header: archivetest.File("blobs/sha256/"+strings.Repeat("a", 64), 3), Data: []byte("cfg")},
		{Header: archivetest.File("blobs/sha256/"+strings.Repeat("b", 64), 5), Data: []byte("layer")},
	}
	tests := []struct {
		name     string
		mutate   func(es []archivetest.Entry)
		entry    string // the entry the error names
		tarSees  string // what tar -t shows that the table does not list ("" when tar shows nothing new)
		wantText string
	}{
		{"a second index.json after index.json's data", func(es []archivetest.Entry) { index(es).After = hidden(secondIndex) },
			"index.json", "index.json", "decodes to more than"},
		{"another image after the data", func(es []archivetest.Entry) { index(es).After = hidden(img...) },
			"index.json", strings.Repeat("a", 64), "decodes to more than"},
		{"a symlink to /etc after the data", func(es []archivetest.Entry) { index(es).After = hidden(symlink) },
			"index.json", "blobs/etc -> /etc", "decodes to more than"},
		{"a character device after the data", func(es []archivetest.Entry) { index(es).After = hidden(device) },
			"index.json", "blobs/mem", "decodes to more than"},
		{"another frame after a layer's raw frame", func(es []archivetest.Entry) {
			layer(es).ExtraFrames = [][]byte{archivetest.Frame(hidden(secondIndex))}
		}, "blobs/sha256/", "index.json", "more bytes after the entry's data frame"},
		{"another frame after a compressed data frame", func(es []archivetest.Entry) {
			index(es).ExtraFrames = [][]byte{archivetest.Frame(hidden(symlink))}
		}, "index.json", "blobs/etc -> /etc", "more bytes after the entry's data frame"},
		{"an empty frame inside the range", func(es []archivetest.Entry) { index(es).ExtraFrames = [][]byte{archivetest.Frame(nil)} },
			"index.json", "", "more bytes after the entry's data frame"},
		{"a skippable frame inside the range", func(es []archivetest.Entry) {
			index(es).ExtraFrames = [][]byte{archivetest.Skippable(0x184D2A50, []byte("hidden"))}
		}, "index.json", "", "more bytes after the entry's data frame"},
		{"a second header in a layer's header frame", func(es []archivetest.Entry) {
			// The extra block shifts the layer's data by 512 bytes for tar: the data's last
			// block, a symlink's header, becomes an entry of its own.
			copy(es, hiddenBundleWith(append(bytes.Repeat([]byte("x"), 100*512), archivetest.Tar(symlink)...)))
			layer(es).MoreHeaders = []archivetest.TarEntry{{Header: archivetest.File("index.json", 0)}}
		}, "blobs/sha256/", "blobs/etc -> /etc", "more than its tar header"},
		{"a second header in a config's header frame", func(es []archivetest.Entry) { es[4].MoreHeaders = []archivetest.TarEntry{secondIndex} },
			"blobs/sha256/", "", "more than its tar header"},
		{"an extended attribute", func(es []archivetest.Entry) {
			h := archivetest.File(index(es).Name, int64(len(index(es).Data)))
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "x"}
			index(es).Header = h
		}, "index.json", "", "PAX record"},
		{"a setuid mode", func(es []archivetest.Entry) {
			h := archivetest.File(index(es).Name, int64(len(index(es).Data)))
			h.Mode = 0o4755
			index(es).Header = h
		}, "index.json", "", "not a plain file"},
	}
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.tar.zst")
	if _, err := archivetest.Write(valid, hiddenBundle()); err != nil {
		t.Fatal(err)
	}
	if err := readEvery(valid); err != nil {
		t.Fatalf("the valid bundle: %v", err)
	}
	validNames := tarNames(t, valid)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := hiddenBundle()
			tt.mutate(es)
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			if _, err := archivetest.Write(path, es); err != nil {
				t.Fatal(err)
			}
			if tt.tarSees != "" { // the attack is real: tar extracts what the table does not list
				names := tarNames(t, path)
				if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, tt.tarSees) }) || len(names) <= len(validNames) {
					t.Fatalf("tar -t does not show %q: %v", tt.tarSees, names)
				}
			}
			res, err := trust.Verify(context.Background(), path, nil)
			if err == nil {
				if len(res.Bad) == 0 {
					t.Fatal("verify accepted it")
				}
				err = res.Bad[0]
			}
			checkRefusal(t, "verify", err, tt.entry, tt.wantText)
			checkRefusal(t, "read", readEvery(path), tt.entry, tt.wantText)
		})
	}
}

func checkRefusal(t *testing.T, how string, err error, entry, text string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s accepted it", how)
	case !errors.Is(err, archive.ErrCorrupt):
		t.Errorf("%s: %v does not wrap ErrCorrupt (exit 3)", how, err)
	case !strings.Contains(err.Error(), entry) || !strings.Contains(err.Error(), text):
		t.Errorf("%s: %q does not name %q and say %q", how, err, entry, text)
	}
}

// readEvery opens the bundle and reads every entry the manifest lists, as list and push do.
func readEvery(path string) error {
	b, err := trust.Open(path)
	if err != nil {
		return err
	}
	defer b.Close()
	for _, name := range []string{archive.LayoutName, archive.IndexName} {
		if _, err := b.ReadFile(name); err != nil {
			return err
		}
	}
	for _, bl := range b.Manifest().Blobs {
		if _, err := b.ReadFile(archive.BlobName(bl.Digest)); err != nil {
			return err
		}
	}
	return nil
}
