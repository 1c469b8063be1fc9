// Package archivetest writes bundles byte by byte, for tests: an independent writer of the
// bundle format (docs/bundle-format.md) that can make what bundle create never would - data
// after an entry's end, extra frames and headers, lying tables, skippable frames inside an
// entry - beside the valid bundles it makes by default. It shares no code with
// internal/archive's writer, so that a test of the reader does not inherit the writer's
// mistakes. Only tests import it.
package archivetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/klauspost/compress/zstd"
)

// Entry is one tar entry of a bundle, and how to lie about it.
type Entry struct {
	Name   string // the entry's name, in the offset table and (unless Header says otherwise) its header
	Data   []byte
	Digest string // in the offset table; "" means the digest of Data
	Size   int64  // in the offset table; -1 means len(Data)

	Header *tar.Header // the tar header written; nil means the regular file Name of len(Data) bytes
	// MoreHeaders are more tar headers (and their data, if any) written into the header
	// frame after Header.
	MoreHeaders []TarEntry
	// After is decoded content written into the data frame after the data and its padding:
	// what `zstd -dc | tar -x` would read next (another tar entry, say).
	After []byte
	// ExtraFrames are written as they are after the data frame, inside the entry's range.
	ExtraFrames [][]byte
	// Raw stores the data frame as raw blocks, as bundle create stores a layer (After must
	// be empty: a raw frame's length follows from the size).
	Raw bool
	// Frames, when set, are the entry's bytes as they are, instead of everything above.
	Frames []byte
}

// TarEntry is a tar header and its data, for content hidden inside an entry.
type TarEntry struct {
	Header *tar.Header
	Data   []byte
}

// Tar returns the tar stream of es: each header, its data and padding (no trailer).
func Tar(es ...TarEntry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		if err := tw.WriteHeader(e.Header); err != nil {
			panic(err)
		}
		tw.Write(e.Data)
		tw.Flush()
	}
	return b.Bytes()
}

// File is a regular file's tar header, as bundle create writes it.
func File(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}
}

// Frame compresses b into one zstd frame.
func Frame(b []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		panic(err)
	}
	return enc.EncodeAll(b, nil)
}

// Skippable returns a zstd skippable frame holding payload.
func Skippable(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// Blob makes the entry of a blob.
func Blob(data []byte) Entry {
	return Entry{Name: archive.BlobName(Digest(data)), Data: data, Size: -1}
}

// Digest is the sha256 digest of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Layout is a valid bundle's content: the manifest is made from it by Entries.
type Layout struct {
	Index  []byte       // index.json; nil: an empty index
	Blobs  []BlobRecord // in tar order
	Images []archive.Image
	// Edit, if set, changes the manifest before it is encoded.
	Edit func(*archive.Manifest)
}

// BlobRecord is a blob and its kind in the manifest.
type BlobRecord struct {
	Data      []byte
	Kind      string // archive.KindLayer, ...
	MediaType string
}

// Entries returns the entries of a valid bundle of l: bundle.json, oci-layout, index.json, then
// the blobs. Tests change them before Write.
func (l Layout) Entries() []Entry {
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index := l.Index
	if index == nil {
		index = []byte(`{"schemaVersion":2,"manifests":[]}`)
	}
	m := archive.Manifest{FormatVersion: archive.FormatVersion, MediaType: archive.ManifestMediaType,
		Tool: "archivetest", Created: time.Unix(0, 0).UTC(), Images: l.Images,
		Layout: archive.Layout{OCILayout: Digest(layout), Index: Digest(index)}}
	for _, b := range l.Blobs {
		m.Blobs = append(m.Blobs, archive.Blob{Digest: Digest(b.Data), Size: int64(len(b.Data)), Kind: b.Kind, MediaType: b.MediaType})
		m.Totals.BlobBytes += int64(len(b.Data))
	}
	m.Totals.Blobs, m.Totals.Images = len(m.Blobs), len(m.Images)
	if l.Edit != nil {
		l.Edit(&m)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	es := []Entry{
		{Name: archive.ManifestName, Data: mj, Size: -1},
		{Name: archive.LayoutName, Data: layout, Size: -1},
		{Name: archive.IndexName, Data: index, Size: -1},
	}
	for _, b := range l.Blobs {
		es = append(es, Blob(b.Data))
	}
	return es
}

// Write writes the bundle of es to path, with its table and footer, and returns the bytes.
// A checksum file is not written: see WriteSums.
func Write(path string, es []Entry) ([]byte, error) {
	var buf bytes.Buffer
	type tabEntry struct {
		Name   string `json:"name"`
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
		Offset int64  `json:"offset"`
		Length int64  `json:"length"`
	}
	var tab struct {
		FormatVersion int        `json:"formatVersion"`
		Entries       []tabEntry `json:"entries"`
		EndOffset     int64      `json:"endOffset"`
		EndLength     int64      `json:"endLength"`
	}
	tab.FormatVersion = archive.FormatVersion
	for _, e := range es {
		start := int64(buf.Len())
		if e.Frames != nil {
			buf.Write(e.Frames)
		} else {
			buf.Write(headerFrame(e))
			buf.Write(dataFrame(e))
			for _, f := range e.ExtraFrames {
				buf.Write(f)
			}
		}
		te := tabEntry{Name: e.Name, Digest: e.Digest, Size: e.Size, Offset: start, Length: int64(buf.Len()) - start}
		if te.Digest == "" {
			te.Digest = Digest(e.Data)
		}
		if te.Size < 0 {
			te.Size = int64(len(e.Data))
		}
		tab.Entries = append(tab.Entries, te)
	}
	tab.EndOffset = int64(buf.Len())
	buf.Write(Frame(make([]byte, 1024)))
	tab.EndLength = int64(buf.Len()) - tab.EndOffset
	js, err := json.Marshal(tab)
	if err != nil {
		return nil, err
	}
	tableOff := int64(buf.Len())
	tf := Skippable(0x184D2A5D, js)
	buf.Write(tf)
	sum := sha256.Sum256(js)
	foot := make([]byte, 64)
	copy(foot, "ESSBUNDL")
	binary.LittleEndian.PutUint32(foot[8:], archive.FormatVersion)
	binary.LittleEndian.PutUint64(foot[16:], uint64(tableOff))
	binary.LittleEndian.PutUint64(foot[24:], uint64(len(tf)))
	copy(foot[32:], sum[:])
	buf.Write(Skippable(0x184D2A5E, foot))
	if path != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func headerFrame(e Entry) []byte {
	h := e.Header
	if h == nil {
		h = File(e.Name, int64(len(e.Data)))
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		panic(err)
	}
	tw.Flush()
	for _, m := range e.MoreHeaders {
		b.Write(Tar(m))
	}
	return Frame(b.Bytes())
}

func dataFrame(e Entry) []byte {
	if e.Raw {
		return RawFrame(Padded(e.Data))
	}
	pad := (512 - len(e.Data)%512) % 512
	content := append(append(append([]byte{}, e.Data...), make([]byte, pad)...), e.After...)
	return Frame(content)
}

// WriteSums writes path.sha256 for the bundle bytes data, in the format bundle create writes
// (with the offset table's digest, read from the footer), and returns it.
func WriteSums(path string, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	name := path[strings.LastIndexByte(path, '/')+1:]
	table := hex.EncodeToString(data[len(data)-32:])
	out := fmt.Sprintf("%s  %s\n# bundle %s: %d bytes, sha256 %s\n# offset table: sha256:%s\n", h, name, name, len(data), h, table)
	return []byte(out), os.WriteFile(path+".sha256", []byte(out), 0o644)
}

// RawFrame is content (data and padding) as a zstd frame of raw blocks, the layout bundle
// create gives a layer: 128 KiB blocks, the last one flagged, an 8-byte content size.
func RawFrame(content []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0xC0, (17-10)<<3)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(content)))
	for off := 0; ; {
		n := min(len(content)-off, 128<<10)
		last := off+n == len(content)
		h := uint32(n) << 3
		if last {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, content[off:off+n]...)
		off += n
		if last {
			return b
		}
	}
}

// Padded is data followed by its tar padding.
func Padded(data []byte) []byte {
	return append(append([]byte{}, data...), make([]byte, (512-len(data)%512)%512)...)
}
