package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// The end of a bundle is two zstd skippable frames that every decoder ignores:
//
//	table frame:  magic 0x184D2A5D, uint32 LE length, JSON table
//	footer frame: magic 0x184D2A5E, uint32 LE 64, footer
//
// footer: "ESSBUNDL" | uint32 LE format version | uint32 zero | uint64 LE table frame offset |
// uint64 LE table frame length | sha256 of the JSON table (32 bytes).
const (
	tableMagic    = 0x184D2A5D
	footerMagic   = 0x184D2A5E
	footerPayload = 64
	footerSize    = 8 + footerPayload
	footerSig     = "ESSBUNDL"
)

// entry locates one tar entry: its zstd frame holds the tar header, the data and the padding.
type entry struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Offset int64  `json:"offset"` // compressed offset of the frame in the file
	Length int64  `json:"length"` // compressed length of the frame
}

type table struct {
	FormatVersion int     `json:"formatVersion"`
	Entries       []entry `json:"entries"`
	// End is the compressed offset and length of the frame holding the tar end-of-archive.
	EndOffset int64 `json:"endOffset"`
	EndLength int64 `json:"endLength"`

	digest string // "sha256:<hex>" of the JSON, as the footer has it (set by readTail)
}

// skippable frames a payload as a zstd skippable frame with the given magic.
func skippable(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// encodeTail returns the table and footer frames for a table starting at offset.
func encodeTail(t *table, offset int64) ([]byte, error) {
	js, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	tf := skippable(tableMagic, js)
	sum := sha256.Sum256(js)
	foot := make([]byte, footerPayload)
	copy(foot, footerSig)
	binary.LittleEndian.PutUint32(foot[8:], FormatVersion)
	binary.LittleEndian.PutUint64(foot[16:], uint64(offset))
	binary.LittleEndian.PutUint64(foot[24:], uint64(len(tf)))
	copy(foot[32:], sum[:])
	return append(tf, skippable(footerMagic, foot)...), nil
}

// footer is what the last 72 bytes of a bundle say: where the offset table is, and its digest.
type footer struct {
	off, length int64
	digest      string // "sha256:<hex>" of the table JSON
	sum         []byte
}

// readFooter reads and checks the footer of a file of the given size.
func readFooter(r io.ReaderAt, size int64) (footer, error) {
	if size < footerSize {
		return footer{}, fmt.Errorf("%w: %d bytes is too short for a bundle (truncated?)", ErrCorrupt, size)
	}
	foot := make([]byte, footerSize)
	if _, err := r.ReadAt(foot, size-footerSize); err != nil {
		return footer{}, fmt.Errorf("read footer: %w", err)
	}
	if binary.LittleEndian.Uint32(foot) != footerMagic || binary.LittleEndian.Uint32(foot[4:]) != footerPayload ||
		string(foot[8:16]) != footerSig {
		return footer{}, fmt.Errorf("%w: no bundle footer at the end of the file (truncated, or not a bundle)", ErrCorrupt)
	}
	p := foot[8:]
	if v := binary.LittleEndian.Uint32(p[8:]); v != FormatVersion {
		return footer{}, fmt.Errorf("%w: format version %d, this tool reads %d", ErrUnsupported, v, FormatVersion)
	}
	f := footer{off: int64(binary.LittleEndian.Uint64(p[16:])), length: int64(binary.LittleEndian.Uint64(p[24:])),
		digest: "sha256:" + hex.EncodeToString(p[32:64]), sum: p[32:64]}
	if f.off < 0 || f.length < 8 || f.length > maxTableSize || f.off+f.length != size-footerSize {
		return footer{}, fmt.Errorf("%w: footer: table at %d+%d does not end at the footer", ErrCorrupt, f.off, f.length)
	}
	return f, nil
}

// readTable reads the offset table the footer points at, checks it against the footer's
// digest, and only then parses and checks it.
func readTable(r io.ReaderAt, f footer) (*table, error) {
	tf := make([]byte, f.length)
	if _, err := r.ReadAt(tf, f.off); err != nil {
		return nil, fmt.Errorf("read offset table: %w", err)
	}
	if binary.LittleEndian.Uint32(tf) != tableMagic || int64(binary.LittleEndian.Uint32(tf[4:])) != f.length-8 {
		return nil, fmt.Errorf("%w: offset table frame header", ErrCorrupt)
	}
	js := tf[8:]
	if sum := sha256.Sum256(js); !bytes.Equal(sum[:], f.sum) {
		return nil, fmt.Errorf("%w: offset table does not match its checksum in the footer", ErrCorrupt)
	}
	t := table{digest: f.digest}
	if err := json.Unmarshal(js, &t); err != nil {
		return nil, fmt.Errorf("%w: offset table: %v", ErrCorrupt, err)
	}
	if err := t.check(f.off); err != nil {
		return nil, err
	}
	return &t, nil
}

// readTail reads and checks the footer and the table of a file of the given size.
// It returns the table and the offset where the table frame starts.
func readTail(r io.ReaderAt, size int64) (*table, int64, error) {
	f, err := readFooter(r, size)
	if err != nil {
		return nil, 0, err
	}
	t, err := readTable(r, f)
	return t, f.off, err
}

// check validates the table's structure: the manifest first, frames contiguous from offset 0 to
// the end-of-archive frame and on to the table, names safe and unique.
func (t *table) check(tableOffset int64) error {
	if t.FormatVersion != FormatVersion {
		return fmt.Errorf("%w: offset table format version %d", ErrUnsupported, t.FormatVersion)
	}
	if len(t.Entries) == 0 || t.Entries[0].Name != ManifestName {
		return fmt.Errorf("%w: offset table: first entry must be %s", ErrCorrupt, ManifestName)
	}
	seen := make(map[string]bool, len(t.Entries))
	var next int64
	for _, e := range t.Entries {
		if err := checkName(e.Name); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("%w: entry %q appears twice", ErrCorrupt, e.Name)
		}
		seen[e.Name] = true
		if e.Offset != next || e.Length <= 0 || e.Size < 0 {
			return fmt.Errorf("%w: offset table: entry %q at %d+%d, expected offset %d", ErrCorrupt, e.Name, e.Offset, e.Length, next)
		}
		if e.Size > maxEntrySize || e.Length > maxFrameLen(e.Size) {
			return fmt.Errorf("%w: offset table: entry %q takes %d bytes for %d bytes of content, more than any encoder writes", ErrCorrupt, e.Name, e.Length, e.Size)
		}
		next = e.Offset + e.Length
	}
	if t.EndOffset != next || t.EndLength <= 0 || t.EndOffset+t.EndLength != tableOffset {
		return fmt.Errorf("%w: offset table: end-of-archive frame at %d+%d, expected %d up to %d", ErrCorrupt, t.EndOffset, t.EndLength, next, tableOffset)
	}
	return nil
}
