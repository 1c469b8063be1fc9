package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

// sampleTable is a table of two entries and the end-of-archive frame, ending at 170.
func sampleTable() *table {
	return &table{FormatVersion: FormatVersion, Entries: []entry{
		{Name: ManifestName, Digest: "sha256:" + hexOf("m"), Size: 10, Offset: 0, Length: 100},
		{Name: BlobName("sha256:" + hexOf("l")), Digest: "sha256:" + hexOf("l"), Size: 5000, Offset: 100, Length: 50},
	}, EndOffset: 150, EndLength: 20}
}

// tailFile is a file of off zero bytes followed by the tail (table and footer) of t.
func tailFile(t *testing.T, tab *table, off int64) []byte {
	t.Helper()
	tail, err := encodeTail(tab, off)
	if err != nil {
		t.Fatal(err)
	}
	return append(make([]byte, off), tail...)
}

// rawTail is a file of off zero bytes, then a table frame holding js as it is and a footer that
// points at it with js's sha256: a table whose checksum is right and whose content is not.
func rawTail(off int64, js []byte) []byte {
	tf := skippable(tableMagic, js)
	sum := sha256.Sum256(js)
	foot := make([]byte, footerPayload)
	copy(foot, footerSig)
	binary.LittleEndian.PutUint32(foot[8:], FormatVersion)
	binary.LittleEndian.PutUint64(foot[16:], uint64(off))
	binary.LittleEndian.PutUint64(foot[24:], uint64(len(tf)))
	copy(foot[32:], sum[:])
	return append(append(make([]byte, off), tf...), skippable(footerMagic, foot)...)
}

// TestTailRoundTrip: the table and footer encodeTail writes are read back as they were, with
// the table's digest, from the last 72 bytes of the file.
func TestTailRoundTrip(t *testing.T) {
	want := sampleTable()
	file := tailFile(t, want, 170)
	got, off, err := readTail(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if off != 170 || got.EndOffset != want.EndOffset || got.EndLength != want.EndLength || len(got.Entries) != 2 ||
		got.Entries[0] != want.Entries[0] || got.Entries[1] != want.Entries[1] {
		t.Fatalf("read back %+v at %d, wrote %+v", got, off, want)
	}
	js := file[170+8 : len(file)-footerSize]
	if sum := sha256.Sum256(js); got.digest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("table digest %s, not the sha256 of its JSON", got.digest)
	}
	if binary.LittleEndian.Uint32(file[len(file)-footerSize:]) != footerMagic || string(file[len(file)-64:len(file)-56]) != footerSig {
		t.Fatal("the footer is not the last 72 bytes")
	}
}

// TestFooterRefused: a footer that is missing, damaged, of another version or pointing
// anywhere but at a table that ends where it starts is refused before the table is read.
func TestFooterRefused(t *testing.T) {
	good := tailFile(t, sampleTable(), 170)
	n := len(good)
	p := n - footerPayload // the footer's payload
	for _, tc := range []struct {
		name  string
		spoil func(b []byte) []byte
		is    error
		want  string
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrCorrupt, "too short"},
		{"71 bytes", func(b []byte) []byte { return b[n-71:] }, ErrCorrupt, "too short"},
		{"truncated", func(b []byte) []byte { return b[:n-1] }, ErrCorrupt, "no bundle footer"},
		{"footer magic", func(b []byte) []byte { b[n-footerSize] ^= 1; return b }, ErrCorrupt, "no bundle footer"},
		{"payload length", func(b []byte) []byte { b[n-footerSize+4] = 63; return b }, ErrCorrupt, "no bundle footer"},
		{"signature", func(b []byte) []byte { b[p] = 'X'; return b }, ErrCorrupt, "no bundle footer"},
		{"version 2", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[p+8:], 2); return b }, ErrUnsupported, "format version 2"},
		{"table offset", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[p+16:], 169); return b }, ErrCorrupt, "does not end at the footer"},
		{"table offset negative", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[p+16:], 1<<63); return b }, ErrCorrupt, "does not end at the footer"},
		{"table length", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[p+24:], 7); return b }, ErrCorrupt, "does not end at the footer"},
		{"table length huge", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[p+16:], 0)
			binary.LittleEndian.PutUint64(b[p+24:], maxTableSize+1)
			return b
		}, ErrCorrupt, "does not end at the footer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.spoil(bytes.Clone(good))
			_, _, err := readTail(bytes.NewReader(b), int64(len(b)))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v saying %q", err, tc.is, tc.want)
			}
		})
	}
}

// TestTableFrameRefused: a table frame that is not one, or whose bytes are not those the footer
// sums, or whose JSON (summed right) is not a table, is refused.
func TestTableFrameRefused(t *testing.T) {
	good := tailFile(t, sampleTable(), 170)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"frame magic", func() []byte { b := bytes.Clone(good); b[170] ^= 1; return b }(), "offset table frame header"},
		{"frame length", func() []byte { b := bytes.Clone(good); b[174]--; return b }(), "offset table frame header"},
		{"a byte of the JSON", func() []byte { b := bytes.Clone(good); b[170+20] ^= 1; return b }(), "does not match its checksum in the footer"},
		{"not JSON", rawTail(170, []byte("not json")), "offset table:"},
		{"JSON of another shape", rawTail(170, []byte(`{"entries":"many"}`)), "offset table:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readTail(bytes.NewReader(tc.file), int64(len(tc.file)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a corrupt bundle saying %q", err, tc.want)
			}
		})
	}
}

// TestTableCheck: the table's own structure is checked: version, the manifest first, names
// safe and unique, frames contiguous from 0 and of a length an encoder could write, the
// end-of-archive frame after the last entry and before the table.
func TestTableCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(tb *table)
		is    error
		want  string
		tabAt int64
	}{
		{"valid", func(tb *table) {}, nil, "", 170},
		{"version", func(tb *table) { tb.FormatVersion = 2 }, ErrUnsupported, "format version 2", 170},
		{"no entries", func(tb *table) { tb.Entries = nil }, ErrCorrupt, "first entry must be bundle.json", 170},
		{"manifest second", func(tb *table) { tb.Entries[0].Name, tb.Entries[1].Name = tb.Entries[1].Name, ManifestName }, ErrCorrupt, "first entry must be bundle.json", 170},
		{"unsafe name", func(tb *table) { tb.Entries[1].Name = "../etc/passwd" }, ErrCorrupt, "unsafe path", 170},
		{"twice", func(tb *table) { tb.Entries[1].Name = ManifestName }, ErrCorrupt, "appears twice", 170},
		{"gap", func(tb *table) { tb.Entries[1].Offset = 101 }, ErrCorrupt, "expected offset 100", 170},
		{"overlap", func(tb *table) { tb.Entries[1].Offset = 99 }, ErrCorrupt, "expected offset 100", 170},
		{"manifest not at 0", func(tb *table) { tb.Entries[0].Offset = 1 }, ErrCorrupt, "expected offset 0", 170},
		{"empty frame", func(tb *table) { tb.Entries[1].Length = 0; tb.EndOffset = 100; tb.EndLength = 70 }, ErrCorrupt, "expected offset", 170},
		{"negative size", func(tb *table) { tb.Entries[1].Size = -1 }, ErrCorrupt, "expected offset", 170},
		{"petabytes", func(tb *table) { tb.Entries[1].Size = maxEntrySize + 1 }, ErrCorrupt, "more than any encoder writes", 170},
		{"frames too long for the size", func(tb *table) {
			tb.Entries[1].Length = maxFrameLen(5000) + 1
			tb.EndOffset = 100 + tb.Entries[1].Length
		}, ErrCorrupt, "more than any encoder writes", 100 + maxFrameLen(5000) + 1 + 20},
		{"end frame elsewhere", func(tb *table) { tb.EndOffset = 151 }, ErrCorrupt, "end-of-archive frame at 151+20", 170},
		{"end frame empty", func(tb *table) { tb.EndLength = 0 }, ErrCorrupt, "end-of-archive frame", 150},
		{"end frame short of the table", func(tb *table) {}, ErrCorrupt, "expected 150 up to 171", 171},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := sampleTable()
			tc.edit(tb)
			err := tb.check(tc.tabAt)
			if tc.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v saying %q", err, tc.is, tc.want)
			}
		})
	}
	// The longest frames an encoder could write for the size pass.
	tb := sampleTable()
	tb.Entries[1].Length = maxFrameLen(5000)
	tb.EndOffset = 100 + tb.Entries[1].Length
	if err := tb.check(tb.EndOffset + 20); err != nil {
		t.Fatalf("frames of maxFrameLen: %v", err)
	}
}

// FuzzTable: the footer and offset table reader never panics, and a table it accepts has
// contiguous entries with safe names ending at the table.
func FuzzTable(f *testing.F) {
	path, _ := writeTestBundle(f, f.TempDir(), []byte("fuzz blob"), []byte("another"))
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	foot, err := readFooter(bytes.NewReader(valid), int64(len(valid)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid[foot.off+8:foot.off+foot.length], valid[foot.off:foot.off+8])
	f.Add([]byte(`{"formatVersion":1,"entries":[{"name":"bundle.json","size":1,"offset":0,"length":1}],"endOffset":1,"endLength":1}`), []byte{})
	f.Fuzz(func(t *testing.T, js, _ []byte) {
		// A file of the fuzzed table behind a prefix of len(valid)'s size, with a right footer.
		body := make([]byte, 4096)
		tf := skippable(tableMagic, js)
		sum := sha256.Sum256(js)
		ft := make([]byte, footerPayload)
		copy(ft, footerSig)
		binary.LittleEndian.PutUint32(ft[8:], FormatVersion)
		binary.LittleEndian.PutUint64(ft[16:], uint64(len(body)))
		binary.LittleEndian.PutUint64(ft[24:], uint64(len(tf)))
		copy(ft[32:], sum[:])
		file := append(append(body, tf...), skippable(footerMagic, ft)...)
		tab, off, err := readTail(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return
		}
		var next int64
		for _, e := range tab.Entries {
			if e.Offset != next || checkName(e.Name) != nil {
				t.Fatalf("accepted entry %+v", e)
			}
			next += e.Length
		}
		if tab.EndOffset+tab.EndLength != off {
			t.Fatalf("accepted a table that does not end at itself: %+v", tab)
		}
	})
}
