package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// storedFrame is a zstd frame by hand: a single-segment header with a 1-byte content size
// (fhd 0x20, plus flags), then the blocks given (each a 3-byte header and its body).
func storedFrame(fhdFlags byte, size byte, blocks ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	b = append(b, 0x20|fhdFlags, size)
	for _, blk := range blocks {
		b = append(b, blk...)
	}
	return b
}

// block is a block header of type typ (0 raw, 1 RLE, 3 reserved) and size, then body.
func block(typ uint32, size uint32, last bool, body []byte) []byte {
	v := size<<3 | typ<<1
	if last {
		v |= 1
	}
	return append([]byte{byte(v), byte(v >> 8), byte(v >> 16)}, body...)
}

func encodeAll(t *testing.T, crc bool, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(crc))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// TestFrameReaderEnds: the frame reader hands on exactly one frame's bytes, whatever follows it,
// found from the frame's own structure (with a checksum or without, one block or many, an RLE
// block); Next goes on to the next frame, and a missing or foreign next frame is refused.
func TestFrameReaderEnds(t *testing.T) {
	text := bytes.Repeat([]byte("the same line again\n"), 1000)
	random := randomBytes(t, 300<<10) // stored in several blocks
	rle := storedFrame(0, 10, block(1, 10, true, []byte{'a'}))
	frames := [][]byte{encodeAll(t, true, text), encodeAll(t, false, random), rle, encodeAll(t, true, nil)}
	src := bytes.NewReader(append(bytes.Join(frames, nil), "not a frame"...))
	fr := newFrameReader(src, "test frame")
	for i, want := range frames {
		if i > 0 {
			fr.Next("test frame")
		}
		if fr.Done() {
			t.Fatalf("frame %d: done before it was read", i)
		}
		var got bytes.Buffer
		// Small reads, to cross every boundary of the structure.
		if _, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{fr}, make([]byte, 5)); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), want) || !fr.Done() {
			t.Fatalf("frame %d: read %d bytes, want %d (done %v)", i, got.Len(), len(want), fr.Done())
		}
	}
	// What the RLE frame decodes to: the frame reader fed a decoder exactly the frame.
	d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	defer d.Close()
	if out, err := d.DecodeAll(rle, nil); err != nil || string(out) != "aaaaaaaaaa" {
		t.Fatalf("the hand-made RLE frame decodes to %q, %v", out, err)
	}
	fr.Next("next frame")
	if _, err := io.ReadAll(fr); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "next frame has magic") {
		t.Fatalf("text after the frames: %v", err)
	}
	fr = newFrameReader(bytes.NewReader(frames[0]), "data frame")
	io.ReadAll(fr)
	fr.Next("data frame")
	if _, err := io.ReadAll(fr); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "data frame is missing") {
		t.Fatalf("no frame after the last: %v", err)
	}
}

// TestFrameReaderRefuses: a frame an encoder never writes in an entry, or one cut short, is
// refused as corrupt at the first wrong byte, naming the frame.
func TestFrameReaderRefuses(t *testing.T) {
	good := encodeAll(t, true, bytes.Repeat([]byte("abc"), 5000))
	skip := make([]byte, 8)
	binary.LittleEndian.PutUint32(skip, 0x184D2A53)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"skippable", append(skip, 0), "is a skippable frame"},
		{"another magic", []byte{1, 2, 3, 4, 0, 0, 0}, "has magic 0x04030201, not a zstd frame"},
		{"reserved bit", storedFrame(0x08, 1, block(0, 1, true, []byte{'x'})), "has a reserved bit or a dictionary set"},
		{"dictionary", storedFrame(0x01, 1, block(0, 1, true, []byte{'x'})), "has a reserved bit or a dictionary set"},
		{"reserved block type", storedFrame(0, 1, block(3, 1, true, []byte{'x'})), "a block of the reserved type"},
		{"block over 128 KiB", storedFrame(0, 1, block(0, maxBlock+1, true, nil)), "a block of 131073 bytes"},
		{"header cut", good[:4], "ends early"},
		{"frame header cut", storedFrame(0, 1)[:5], "ends early"},
		{"block header cut", append(storedFrame(0, 1), 1), "ends early"},
		{"block cut", storedFrame(0, 9, block(0, 9, true, []byte("12345"))), "ends early"},
		{"checksum cut", good[:len(good)-2], "ends early"},
		{"no last block", storedFrame(0, 2, block(0, 1, false, []byte{'x'}), block(0, 1, false, []byte{'y'})), "ends early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := newFrameReader(bytes.NewReader(tc.frame), "the frame")
			_, err := io.ReadAll(fr)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "the frame "+tc.want) {
				t.Fatalf("got %v, want a corrupt frame that %q", err, tc.want)
			}
			// The error sticks.
			if _, again := fr.Read(make([]byte, 8)); again == nil || again.Error() != err.Error() {
				t.Fatalf("read after the error: %v", again)
			}
		})
	}
}

// errAfter reads b, then fails with err.
func errAfter(b []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(b), &failing{err})
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// TestDecodedErrors: a decoder's own error on a frame (a checksum that does not match) is a
// corrupt bundle; an I/O error of the file under the frame is handed on as it is, not called
// corruption.
func TestDecodedErrors(t *testing.T) {
	frame := encodeAll(t, true, bytes.Repeat([]byte("abc"), 5000))
	frame[len(frame)-1] ^= 0xff // the checksum
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fr := newFrameReader(bytes.NewReader(frame), "data frame")
	if err := d.Reset(fr); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(decoded{d, fr}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "data frame") {
		t.Fatalf("bad checksum: %v", err)
	}

	disk := errors.New("input/output error")
	body := bytes.Repeat([]byte{'z'}, 200)
	stored := storedFrame(0, 200, block(0, 200, true, body))
	fr = newFrameReader(errAfter(stored[:20], disk), "data frame")
	if _, err := io.ReadAll(fr); !errors.Is(err, disk) || errors.Is(err, ErrCorrupt) || fr.srcErr == nil {
		t.Fatalf("an I/O error inside a block: %v", err)
	}
}

func TestAtEOF(t *testing.T) {
	if !atEOF(bytes.NewReader(nil)) {
		t.Error("an empty reader is not at its end")
	}
	if atEOF(strings.NewReader("x")) {
		t.Error("a reader of one byte is at its end")
	}
	if atEOF(&failing{errors.New("broken")}) {
		t.Error("a failing reader is at its end")
	}
}
