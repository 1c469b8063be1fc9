package archivetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/klauspost/compress/zstd"
)

// decodeAll decodes a stream of zstd frames (skippable ones skipped, as every decoder does).
func decodeAll(t *testing.T, b []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := io.ReadAll(dec)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func layout() Layout {
	return Layout{Blobs: []BlobRecord{
		{Data: []byte(`{"config":true}`), Kind: archive.KindConfig, MediaType: "application/vnd.oci.image.config.v1+json"},
		{Data: bytes.Repeat([]byte("layer "), 50000), Kind: archive.KindLayer, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"},
	}}
}

// TestValidBundle: a bundle written from a Layout's entries opens and verifies with the real
// reader, and its checksum file is one the real reader reads, naming the offset table.
func TestValidBundle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	l := layout()
	data, err := Write(path, l.Entries())
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatalf("the real reader refuses it: %v", err)
	}
	defer b.Close()
	m := b.Manifest()
	if m.Tool != "archivetest" || len(m.Blobs) != 2 || m.Totals.Blobs != 2 || m.Totals.BlobBytes != int64(len(l.Blobs[0].Data)+len(l.Blobs[1].Data)) {
		t.Errorf("manifest %+v", m)
	}
	res, err := b.Verify(context.Background(), nil)
	if err != nil || len(res.Bad) != 0 || res.SHA256 != hex.EncodeToString(sha(data)) {
		t.Fatalf("verify: %v, %+v", err, res)
	}
	got, err := b.ReadFile(archive.BlobName(Digest(l.Blobs[1].Data)))
	if err != nil || !bytes.Equal(got, l.Blobs[1].Data) {
		t.Errorf("layer read back: %v", err)
	}
	sums, err := WriteSums(path, data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parts.ReadSums(path + ".sha256")
	if err != nil {
		t.Fatalf("the real reader refuses the checksum file: %v\n%s", err, sums)
	}
	if s.Name != "b.tar.zst" || s.Size != int64(len(data)) || s.SHA256 != res.SHA256 || !strings.HasPrefix(s.Table, "sha256:") {
		t.Errorf("sums %+v", s)
	}
}

// TestWholeIsTarZst: the file is one valid .tar.zst: every decoder skips the table and footer,
// and tar reads the entries in order, each with its data.
func TestWholeIsTarZst(t *testing.T) {
	l := layout()
	es := l.Entries()
	data, err := Write("", es)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(decodeAll(t, data)))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		i := len(names)
		if i < len(es) && !bytes.Equal(body, es[i].Data) {
			t.Errorf("%s: content differs", h.Name)
		}
		names = append(names, h.Name)
	}
	want := []string{archive.ManifestName, archive.LayoutName, archive.IndexName,
		archive.BlobName(Digest(l.Blobs[0].Data)), archive.BlobName(Digest(l.Blobs[1].Data))}
	if !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q", names, want)
	}
	// The footer: magic, version, the table's offset and length, the table's sha256.
	foot := data[len(data)-64:]
	if string(foot[:8]) != "ESSBUNDL" || binary.LittleEndian.Uint32(foot[8:]) != archive.FormatVersion {
		t.Errorf("footer %x", foot[:16])
	}
	off, n := binary.LittleEndian.Uint64(foot[16:]), binary.LittleEndian.Uint64(foot[24:])
	table := data[off : off+n]
	if binary.LittleEndian.Uint32(table) != 0x184D2A5D || !bytes.Equal(sha(table[8:]), foot[32:]) {
		t.Error("the footer does not name the table")
	}
}

// TestLies: what a test asks for is written as asked: a table digest or size that lies,
// content after an entry's data, extra frames inside the entry, raw frames.
func TestLies(t *testing.T) {
	blob := Blob([]byte("honest"))
	blob.Digest = Digest([]byte("a lie"))
	blob.Size = 99
	hidden := Tar(TarEntry{Header: File("smuggled", 3), Data: []byte("bad")})
	after := Blob([]byte("carrier"))
	after.After = hidden
	extra := Blob([]byte("x"))
	extra.ExtraFrames = [][]byte{Frame([]byte("more"))}
	raw := Blob(bytes.Repeat([]byte{7}, 200<<10))
	raw.Raw = true
	data, err := Write("", []Entry{blob, after, extra, raw})
	if err != nil {
		t.Fatal(err)
	}
	all := decodeAll(t, data)
	if !bytes.Contains(all, []byte("smuggled")) || !bytes.Contains(all, []byte("more")) {
		t.Error("the hidden content is not in the stream")
	}
	tr := tar.NewReader(bytes.NewReader(all))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if !slices.Contains(names, "smuggled") {
		t.Errorf("tar does not read the entry hidden after the data: %q", names)
	}
	var tab struct {
		Entries []struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"entries"`
	}
	foot := data[len(data)-64:]
	off, n := binary.LittleEndian.Uint64(foot[16:]), binary.LittleEndian.Uint64(foot[24:])
	if err := json.Unmarshal(data[off+8:off+n], &tab); err != nil {
		t.Fatal(err)
	}
	if tab.Entries[0].Digest != Digest([]byte("a lie")) || tab.Entries[0].Size != 99 || tab.Entries[1].Size != 7 {
		t.Errorf("table %+v", tab.Entries)
	}
}

// TestRawFrame: raw blocks of 128 KiB at most, the last flagged, decode to the content; the
// frame declares the content's size.
func TestRawFrame(t *testing.T) {
	for _, n := range []int{0, 1, 512, 128 << 10, 128<<10 + 1, 300 << 10} {
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(i * 7)
		}
		f := RawFrame(content)
		if got := decodeAll(t, f); !bytes.Equal(got, content) {
			t.Errorf("%d bytes: decoded %d", n, len(got))
		}
		if size := binary.LittleEndian.Uint64(f[6:]); size != uint64(n) {
			t.Errorf("%d bytes: the frame declares %d", n, size)
		}
		blocks := max(1, (n+128<<10-1)/(128<<10))
		if len(f) != 14+3*blocks+n {
			t.Errorf("%d bytes: a frame of %d bytes, want %d blocks", n, len(f), blocks)
		}
	}
}

// TestSmallParts: Skippable, Padded, File, Tar and Frame.
func TestSmallParts(t *testing.T) {
	s := Skippable(0x184D2A50, []byte("payload"))
	if binary.LittleEndian.Uint32(s) != 0x184D2A50 || binary.LittleEndian.Uint32(s[4:]) != 7 || string(s[8:]) != "payload" {
		t.Errorf("skippable %x", s)
	}
	if got := decodeAll(t, append(append(Frame([]byte("a")), s...), Frame([]byte("b"))...)); string(got) != "ab" {
		t.Errorf("frames around a skippable one decode to %q", got)
	}
	for _, n := range []int{0, 1, 511, 512, 513} {
		p := Padded(make([]byte, n))
		if len(p)%512 != 0 || len(p) < n || len(p)-n >= 512 {
			t.Errorf("Padded(%d) is %d bytes", n, len(p))
		}
	}
	h := File("blobs/sha256/x", 5)
	if h.Typeflag != tar.TypeReg || h.Mode != 0o644 || h.ModTime.Unix() != 0 || h.Size != 5 {
		t.Errorf("File: %+v", h)
	}
	stream := Tar(TarEntry{Header: File("a", 1), Data: []byte("A")}, TarEntry{Header: File("b", 2), Data: []byte("BB")})
	if len(stream) != 4*512 {
		t.Errorf("Tar: %d bytes, want two headers and two padded bodies", len(stream))
	}
	if Digest(nil) != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Digest(nil) = %s", Digest(nil))
	}
	if _, err := Write(filepath.Join(t.TempDir(), "missing", "b.tar.zst"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a path in a missing directory: %v", err)
	}
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
