package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRawReader: the data of a raw frame is read back exactly, in reads of any size, and the
// reader ends there (the padding checked, not handed on).
func TestRawReader(t *testing.T) {
	for _, size := range []int{0, 1, 512, 1000, rawBlockMax, rawBlocksAtOne*rawBlockMax + 1} {
		data := randomBytes(t, size)
		frame := rawFrameOf(padded(data))
		for _, buf := range []int{1, 333, 64 << 10, 2 << 20} {
			if size > 4096 && buf < 1000 {
				continue // byte by byte is slow, and no different
			}
			r := newRawReader(bytes.NewReader(frame[rawHeaderLen:]), int64(size))
			var got bytes.Buffer
			_, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{r}, make([]byte, buf))
			if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("%d bytes in reads of %d: read %d, %v", size, buf, got.Len(), err)
			}
			if r.buf != nil {
				t.Fatalf("%d bytes: the buffer was not given back at the end", size)
			}
		}
	}
}

// TestRawReaderRefuses: a raw frame that differs from the layout the size gives, in any block
// header or in the padding, or that ends early, is refused as corrupt at that block.
func TestRawReaderRefuses(t *testing.T) {
	data := randomBytes(t, 2*rawBlockMax+100) // three blocks, the last with 412 bytes of padding
	frame := rawFrameOf(padded(data))[rawHeaderLen:]
	second := 3 + rawBlockMax // the second block's header
	third := 2 * (3 + rawBlockMax)
	for _, tc := range []struct {
		name  string
		spoil func(b []byte) []byte
		want  string
	}{
		{"first block short", func(b []byte) []byte { b[0] -= 8; return b }, "the block at content offset 0 has header"},
		{"first block flagged last", func(b []byte) []byte { b[0] |= 1; return b }, "the block at content offset 0 has header"},
		{"second block RLE", func(b []byte) []byte { b[second] |= 2; return b }, "the block at content offset 131072 has header"},
		{"last block not flagged", func(b []byte) []byte { b[third] &^= 1; return b }, "the block at content offset 262144"},
		{"padding", func(b []byte) []byte { b[len(b)-1] = 7; return b }, "bad tar padding"},
		{"ends in a block", func(b []byte) []byte { return b[:second+10] }, "raw frame ends early"},
		{"ends before the last block", func(b []byte) []byte { return b[:third] }, "raw frame ends early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRawReader(bytes.NewReader(tc.spoil(bytes.Clone(frame))), int64(len(data)))
			got, err := io.ReadAll(r)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a corrupt frame saying %q", err, tc.want)
			}
			if len(got) > len(data) || !bytes.Equal(got, data[:len(got)]) {
				t.Fatal("bytes other than the data were handed on")
			}
			if _, again := r.Read(make([]byte, 10)); again == nil {
				t.Fatal("a read after the error succeeded")
			}
		})
	}
}

func TestIsRawHeader(t *testing.T) {
	h := rawFrameOf(make([]byte, 1024))[:rawHeaderLen]
	if !isRawHeader(h, 1024) {
		t.Fatal("the header of a raw frame of 1024 bytes is not one")
	}
	if isRawHeader(h, 1536) {
		t.Fatal("the header is taken for another size")
	}
	for i := range rawHeaderLen {
		b := bytes.Clone(h)
		b[i] ^= 0x10
		if isRawHeader(b, 1024) {
			t.Errorf("byte %d changed: still a raw header", i)
		}
	}
	if blockHeader(5, true) != [3]byte{5<<3 | 1, 0, 0} || blockHeader(rawBlockMax, false) != [3]byte{0, 0, 0x10} {
		t.Errorf("block headers %x %x", blockHeader(5, true), blockHeader(rawBlockMax, false))
	}
}

// TestMaxFrameLen: the bound on an entry's frames holds every frame an encoder writes (a
// header frame and a raw data frame) and little more.
func TestMaxFrameLen(t *testing.T) {
	for _, size := range []int64{0, 1, 512, 1 << 20, 10 << 30} {
		content := size + padding(size)
		raw := rawFrameLen(content)
		if m := maxFrameLen(size); m < raw+maxHeaderFrame || m > raw+maxHeaderFrame+content/4096+64 {
			t.Errorf("maxFrameLen(%d) = %d, raw frame %d", size, m, raw)
		}
	}
}

// TestCheckHeader: an entry's tar header must be the regular file of its name and size, as
// the writer makes it: anything else is refused as corrupt, saying what it is.
func TestCheckHeader(t *testing.T) {
	const name = "blobs/sha256/abc"
	file := func() *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: 10, Mode: 0o644, ModTime: time.Unix(0, 0)}
	}
	for _, tc := range []struct {
		what string
		edit func(h *tar.Header)
		want string
	}{
		{"as written", func(h *tar.Header) {}, ""},
		{"executable", func(h *tar.Header) { h.Mode = 0o755 }, ""},
		{"a long name's PAX path", func(h *tar.Header) { h.PAXRecords = map[string]string{"path": name} }, ""},
		{"a large size's PAX size", func(h *tar.Header) { h.PAXRecords = map[string]string{"size": "10", "mtime": "0"} }, ""},
		{"another name", func(h *tar.Header) { h.Name = "index.json" }, `found entry "index.json" where the offset table places "blobs/sha256/abc"`},
		{"symlink", func(h *tar.Header) { h.Typeflag = tar.TypeSymlink }, "is not a regular file"},
		{"directory", func(h *tar.Header) { h.Typeflag = tar.TypeDir }, "is not a regular file"},
		{"another size", func(h *tar.Header) { h.Size = 11 }, "is 11 bytes, declared 10"},
		{"setuid", func(h *tar.Header) { h.Mode = 0o4755 }, "has mode 4755"},
		{"sticky", func(h *tar.Header) { h.Mode = 0o1644 }, "not a plain file"},
		{"link name", func(h *tar.Header) { h.Linkname = "/etc/shadow" }, "not a plain file"},
		{"device", func(h *tar.Header) { h.Devmajor = 1 }, "not a plain file"},
		{"extended attribute", func(h *tar.Header) { h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "x"} }, `carries the PAX record "SCHILY.xattr.security.capability"`},
		{"PAX link path", func(h *tar.Header) { h.PAXRecords = map[string]string{"linkpath": "/"} }, `PAX record "linkpath"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			h := file()
			tc.edit(h)
			err := checkHeader(h, name, 10)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a corrupt entry saying %q", err, tc.want)
			}
		})
	}
}

// TestCheckHeaderBytes: a header frame's content must be one tar header and nothing more:
// a second header, data or garbage after it is refused.
func TestCheckHeaderBytes(t *testing.T) {
	e := entry{Name: "index.json", Size: 3}
	one := func(name string, size int64) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Flush()
		return b.Bytes()
	}
	if err := checkHeaderBytes(one("index.json", 3), e); err != nil {
		t.Fatalf("one header: %v", err)
	}
	for what, raw := range map[string][]byte{
		"two headers":    append(one("index.json", 3), one("x", 0)...),
		"a byte more":    append(one("index.json", 3), 0),
		"not a header":   bytes.Repeat([]byte{'x'}, 512),
		"nothing":        nil,
		"half a header":  one("index.json", 3)[:256],
		"another header": one("oci-layout", 3),
	} {
		if err := checkHeaderBytes(raw, e); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want a corrupt header", what, err)
		}
	}
}
