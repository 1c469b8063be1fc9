package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/klauspost/compress/zstd"
)

// craftEntry is one tar entry of a hand-made bundle: what the offset table says, and the tar
// header actually written.
type craftEntry struct {
	table entry       // Offset and Length are filled in
	hdr   *tar.Header // nil: a regular file matching table
	data  []byte
	frame []byte // the entry's frames as they are, instead of an encoding of hdr and data
}

// craft writes a bundle byte by byte, so that tests can make it lie in every way.
func craft(t *testing.T, entries []craftEntry) string {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	tab := table{FormatVersion: FormatVersion}
	for _, e := range entries {
		start := int64(buf.Len())
		if e.frame != nil {
			buf.Write(e.frame)
			te := e.table
			te.Offset, te.Length = start, int64(len(e.frame))
			tab.Entries = append(tab.Entries, te)
			continue
		}
		// Two frames, as the writer makes them: the tar header, then the data and its padding.
		enc.Reset(&buf)
		tw := tar.NewWriter(enc)
		hdr := e.hdr
		if hdr == nil {
			hdr = &tar.Header{Typeflag: tar.TypeReg, Name: e.table.Name, Size: int64(len(e.data)), Mode: 0o644}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Flush()
		enc.Close()
		enc.Reset(&buf)
		if hdr.Typeflag == tar.TypeReg {
			enc.Write(e.data)
			enc.Write(make([]byte, padding(int64(len(e.data)))))
		}
		enc.Close()
		te := e.table
		te.Offset, te.Length = start, int64(buf.Len())-start
		tab.Entries = append(tab.Entries, te)
	}
	tab.EndOffset = int64(buf.Len())
	enc.Reset(&buf)
	tar.NewWriter(enc).Close()
	enc.Close()
	tab.EndLength = int64(buf.Len()) - tab.EndOffset
	tail, err := encodeTail(&tab, int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(tail)
	path := filepath.Join(t.TempDir(), "hostile.tar.zst")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustTarEntry returns the tar header, data and padding of e.
func mustTarEntry(t *testing.T, e craftEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.table.Name, Size: int64(len(e.data)), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tw.Write(e.data)
	tw.Flush()
	return b.Bytes()
}

// validEntries returns the entries of a small valid bundle holding one blob, and that blob.
func validEntries(t *testing.T, blob []byte) []craftEntry {
	t.Helper()
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index := []byte(`{"schemaVersion":2,"manifests":[]}`)
	d := verify.Digest(blob)
	m := Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType, Created: time.Unix(0, 0).UTC(),
		Layout: Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)},
		Blobs:  []Blob{{Digest: d, Size: int64(len(blob)), Kind: KindLayer}},
		Totals: Totals{Blobs: 1, BlobBytes: int64(len(blob))}}
	mj, _ := json.Marshal(m)
	mk := func(name string, data []byte) craftEntry {
		return craftEntry{table: entry{Name: name, Digest: verify.Digest(data), Size: int64(len(data))}, data: data}
	}
	return []craftEntry{mk(ManifestName, mj), mk(LayoutName, layout), mk(IndexName, index), mk(BlobName(d), blob)}
}

// readAll opens the bundle and reads every entry; it returns the first error.
func readAll(path string) error {
	b, err := openPath(path)
	if err != nil {
		return err
	}
	defer b.Close()
	for _, e := range b.tab.Entries {
		if _, err := b.ReadFile(e.Name); err != nil {
			return err
		}
	}
	res, err := verifyPath(context.Background(), path, nil)
	if err != nil {
		return err
	}
	if len(res.Bad) > 0 {
		return res.Bad[0]
	}
	return nil
}

func TestHostileBundles(t *testing.T) {
	blob := []byte("layer bytes")
	tests := []struct {
		name   string
		mutate func(es []craftEntry) []craftEntry
		want   string // the error must say this
	}{
		{"valid", func(es []craftEntry) []craftEntry { return es }, ""},
		{"dot-dot path", func(es []craftEntry) []craftEntry {
			es[3].table.Name = "../../etc/cron.d/x"
			return es
		}, `"../../etc/cron.d/x": unsafe path`},
		{"absolute path", func(es []craftEntry) []craftEntry {
			es[3].table.Name = "/etc/passwd"
			return es
		}, `"/etc/passwd": unsafe path`},
		{"symlink", func(es []craftEntry) []craftEntry {
			es[3].hdr = &tar.Header{Typeflag: tar.TypeSymlink, Name: es[3].table.Name, Linkname: "/etc/shadow"}
			return es
		}, "is not a regular file"},
		{"hardlink", func(es []craftEntry) []craftEntry {
			es[3].hdr = &tar.Header{Typeflag: tar.TypeLink, Name: es[3].table.Name, Linkname: "index.json"}
			return es
		}, "is not a regular file"},
		{"duplicate entry", func(es []craftEntry) []craftEntry { return append(es, es[3]) }, "appears twice"},
		{"entry not in the manifest", func(es []craftEntry) []craftEntry {
			extra := []byte("smuggled")
			return append(es, craftEntry{table: entry{Name: BlobName(verify.Digest(extra)), Digest: verify.Digest(extra), Size: 8}, data: extra})
		}, "is not listed in the manifest"},
		{"entry larger than declared", func(es []craftEntry) []craftEntry {
			es[3].hdr = &tar.Header{Typeflag: tar.TypeReg, Name: es[3].table.Name, Size: int64(len(blob)) + 5, Mode: 0o644}
			es[3].data = append(append([]byte{}, blob...), "extra"...)
			return es
		}, "declared 11"},
		{"header names another entry", func(es []craftEntry) []craftEntry {
			es[3].hdr = &tar.Header{Typeflag: tar.TypeReg, Name: "index.json", Size: int64(len(blob)), Mode: 0o644}
			return es
		}, `found entry "index.json"`},
		{"table size disagrees with manifest", func(es []craftEntry) []craftEntry {
			es[3].table.Size = 1 << 50
			return es
		}, "manifest says"},
		{"manifest not first", func(es []craftEntry) []craftEntry {
			es[0], es[1] = es[1], es[0]
			return es
		}, "first entry must be bundle.json"},
		{"blob content differs", func(es []craftEntry) []craftEntry {
			es[3].data = []byte("LAYER BYTES")
			return es
		}, "content hashes to"},
		{"missing blob", func(es []craftEntry) []craftEntry { return es[:3] }, "missing from the bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := craft(t, tt.mutate(validEntries(t, blob)))
			err := readAll(path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid bundle: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, verify.ErrMismatch) {
				t.Errorf("error %v wraps neither ErrCorrupt nor ErrMismatch", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	path := craft(t, validEntries(t, []byte("blob")))
	data, _ := os.ReadFile(path)
	for _, n := range []int{0, 10, len(data) / 2, len(data) - 1} {
		os.WriteFile(path, data[:n], 0o644)
		if _, err := openPath(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	path, _ := writeTestBundle(f, f.TempDir(), []byte("fuzz blob"), []byte("another"))
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(valid[len(valid)/2:])
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readBytes(data)
		if err == nil && !bytes.Equal(data, valid) {
			// Our writer is the only one that makes valid bundles: an accepted mutation must at
			// least agree with itself when read again.
			if err2 := readBytes(data); err2 != nil {
				t.Fatalf("accepted once, rejected next: %v", err2)
			}
		}
	})
}

// readBytes opens a bundle held in memory and reads and verifies every entry.
func readBytes(data []byte) error {
	b, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	defer b.Close()
	for _, e := range b.tab.Entries {
		if _, err := b.ReadFile(e.Name); err != nil {
			return err
		}
	}
	res, err := b.Verify(context.Background(), nil)
	if err != nil {
		return err
	}
	if len(res.Bad) > 0 {
		return res.Bad[0]
	}
	return nil
}

// TestFlippedStructure: a flipped byte in the manifest's frame, the offset table or the footer
// is caught when the bundle is opened, before any blob is read.
func TestFlippedStructure(t *testing.T) {
	path := craft(t, validEntries(t, []byte("some layer")))
	data, _ := os.ReadFile(path)
	b, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	manifestAt := b.tab.Entries[0].Offset + b.tab.Entries[0].Length - 8 // inside the manifest's frames
	_, tableAt, _ := readTail(bytes.NewReader(data), int64(len(data)))
	for name, at := range map[string]int64{
		"manifest":     manifestAt,
		"offset table": tableAt + 20,
		"footer":       int64(len(data)) - 30,
		"footer magic": int64(len(data)) - footerSize,
	} {
		t.Run(name, func(t *testing.T) {
			bad := append([]byte{}, data...)
			bad[at] ^= 0x20
			_, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
			if err == nil {
				t.Fatal("opened")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, verify.ErrMismatch) {
				t.Fatalf("err = %v, wraps neither ErrCorrupt nor ErrMismatch", err)
			}
		})
	}
}

// TestDeclaredPetabyte: a blob declared as 1 PB (in the manifest and the table alike) is read
// as what is really there, without allocating by the declared size, and rejected as short.
func TestDeclaredPetabyte(t *testing.T) {
	const pb = int64(1) << 50
	es := validEntries(t, []byte("tiny"))
	var m Manifest
	json.Unmarshal(es[0].data, &m)
	m.Blobs[0].Size = pb
	m.Totals.BlobBytes = pb
	mj, _ := json.Marshal(m)
	es[0] = craftEntry{table: entry{Name: ManifestName, Digest: verify.Digest(mj), Size: int64(len(mj))}, data: mj}
	es[3].table.Size = pb
	es[3].hdr = &tar.Header{Typeflag: tar.TypeReg, Name: es[3].table.Name, Size: pb, Mode: 0o644}
	path := craft(t, es)
	err := readAll(path)
	if err == nil || !(errors.Is(err, ErrCorrupt) || errors.Is(err, verify.ErrMismatch)) {
		t.Fatalf("err = %v", err)
	}
	// A manifest declared larger than the cap is refused before it is read.
	es = validEntries(t, []byte("tiny"))
	es[0].table.Size = 1 << 40
	if _, err := openPath(craft(t, es)); err == nil || !strings.Contains(err.Error(), "declares") {
		t.Fatalf("huge manifest: %v", err)
	}
}

// TestWindowOverCap: a frame that asks for a zstd window over the cap is refused.
func TestWindowOverCap(t *testing.T) {
	es := validEntries(t, bytes.Repeat([]byte("x"), 1<<20))
	path := craft(t, es)
	data, _ := os.ReadFile(path)
	b, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e := b.tab.Entries[3]
	// Re-encode the blob's frame with a 512 MiB window and splice it in place of the old one.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(512<<20))
	var frame bytes.Buffer
	enc.Reset(&frame)
	tw := tar.NewWriter(enc)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.Name, Size: e.Size, Mode: 0o644})
	tw.Write(es[3].data)
	tw.Flush()
	enc.Close()
	r := &Bundle{f: bytes.NewReader(frame.Bytes()), size: int64(frame.Len())}
	_, err = r.openFrame(entry{Name: e.Name, Digest: e.Digest, Size: e.Size}, bytes.NewReader(frame.Bytes()))
	if err == nil {
		rd, _ := r.openFrame(entry{Name: e.Name, Digest: e.Digest, Size: e.Size}, bytes.NewReader(frame.Bytes()))
		_, err = io.Copy(io.Discard, rd)
	}
	if err == nil || !strings.Contains(err.Error(), "window") {
		t.Fatalf("a 512 MiB window was accepted: %v", err)
	}
}
