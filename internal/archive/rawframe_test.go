package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// memFile is an io.WriterAt over memory, growing as written.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

// rawFrameOf builds the raw frame of content (data and padding) by the specification, without
// the package's code: magic, descriptor 0xC0, window 128 KiB, 8-byte content size, then 128 KiB
// raw blocks, the last flagged.
func rawFrameOf(content []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0xC0, 7<<3)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(content)))
	for off := 0; ; {
		n := min(len(content)-off, 128<<10)
		h := uint32(n) << 3
		if off+n == len(content) {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, content[off:off+n]...)
		if off += n; off == len(content) {
			return b
		}
	}
}

func padded(data []byte) []byte {
	return append(bytes.Clone(data), make([]byte, (512-len(data)%512)%512)...)
}

func TestPadding(t *testing.T) {
	for size, want := range map[int64]int64{0: 0, 1: 511, 511: 1, 512: 0, 513: 511, 1 << 30: 0} {
		if got := padding(size); got != want {
			t.Errorf("padding(%d) = %d, want %d", size, got, want)
		}
	}
}

// TestRawFrameLayout: the length of a raw frame, and its extents (the header, then chunks of
// eight blocks), follow from the size alone, cover the frame exactly and in order.
func TestRawFrameLayout(t *testing.T) {
	for content, want := range map[int64]int64{0: 17, 1: 18, rawBlockMax: 17 + rawBlockMax, rawBlockMax + 1: 20 + rawBlockMax + 1} {
		if got := rawFrameLen(content); got != want {
			t.Errorf("rawFrameLen(%d) = %d, want %d", content, got, want)
		}
	}
	for _, content := range []int64{0, 512, rawBlockMax, chunkContent - 512, chunkContent, chunkContent + 512, 3*chunkContent + 7*512} {
		n := 1 + int(chunks(content))
		var next, lastEnd int64
		for k := range n {
			off, length, end := extent(k, content)
			if off != next || length <= 0 || (k > 0 && end <= lastEnd && content > 0) {
				t.Fatalf("content %d, extent %d: %d+%d ending at content %d (after %d)", content, k, off, length, end, lastEnd)
			}
			next, lastEnd = off+length, end
		}
		if next != rawFrameLen(content) || lastEnd != content {
			t.Fatalf("content %d: extents end at %d (content %d), the frame is %d", content, next, lastEnd, rawFrameLen(content))
		}
	}
}

// TestWriteRawFrame: writeRawFrame writes, at its offset, the frame the specification gives
// for the data and its padding, which zstd decodes; it tells of each extent as it lands.
func TestWriteRawFrame(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, rawBlockMax, rawBlockMax + 1, chunkContent, chunkContent + 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(t, size)
			var f memFile
			const at = 1000
			type ext struct {
				at, n, content int64
				last           bool
			}
			var got []ext
			err := writeRawFrame(&f, at, int64(size), 0, bytes.NewReader(data), func(off int64, p []byte, content int64, last bool) error {
				got = append(got, ext{off, int64(len(p)), content, last})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := rawFrameOf(padded(data))
			if !bytes.Equal(f.b[at:], want) || int64(len(want)) != rawFrameLen(int64(len(padded(data)))) {
				t.Fatalf("wrote %d bytes, not the %d of the specification's frame", len(f.b)-at, len(want))
			}
			d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			defer d.Close()
			if out, err := d.DecodeAll(f.b[at:], nil); err != nil || !bytes.Equal(out, padded(data)) {
				t.Fatalf("zstd decodes %d bytes, %v", len(out), err)
			}
			content := int64(len(padded(data)))
			if len(got) != 1+int(chunks(content)) {
				t.Fatalf("%d extents told, want %d", len(got), 1+chunks(content))
			}
			for k, e := range got {
				off, n, end := extent(k, content)
				if e.at != at+off || e.n != n || e.content != end || e.last != (k == len(got)-1) {
					t.Fatalf("extent %d told as %+v, want at %d, %d bytes, content %d", k, e, at+off, n, end)
				}
			}
		})
	}
}

// TestWriteRawFrameFrom: a write taken up at a chunk's start leaves what is before it, and
// gives the same frame as a write from the start.
func TestWriteRawFrameFrom(t *testing.T) {
	data := randomBytes(t, 2*chunkContent+3000)
	var whole memFile
	if err := writeRawFrame(&whole, 0, int64(len(data)), 0, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{chunkContent, 2 * chunkContent} {
		off, _, _ := extent(int(from/chunkContent)+1, int64(len(padded(data))))
		f := memFile{b: bytes.Clone(whole.b[:off])}
		if err := writeRawFrame(&f, 0, int64(len(data)), from, bytes.NewReader(data[from:]), nil); err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		if !bytes.Equal(f.b, whole.b) {
			t.Fatalf("from %d: the frame differs from one written whole", from)
		}
	}
}

// TestWriteRawFrameRefuses: a take-up point that is not a chunk's start, content shorter or
// longer than the size, a failing source and a refusal of the extent callback stop the write
// with their error.
func TestWriteRawFrameRefuses(t *testing.T) {
	data := randomBytes(t, chunkContent+100)
	size := int64(len(data))
	stop := errors.New("stop")
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name  string
		from  int64
		src   io.Reader
		wrote wroteFunc
		check func(err error) bool
	}{
		{"from inside a chunk", 512, bytes.NewReader(data), nil, func(err error) bool { return strings.Contains(err.Error(), "not the start of a chunk") }},
		{"from negative", -chunkContent, bytes.NewReader(data), nil, func(err error) bool { return strings.Contains(err.Error(), "not the start of a chunk") }},
		{"from past the end", 2 * chunkContent, bytes.NewReader(nil), nil, func(err error) bool { return strings.Contains(err.Error(), "not the start of a chunk") }},
		{"short", 0, bytes.NewReader(data[:size-1]), nil, func(err error) bool {
			var se sizeError
			return errors.As(err, &se) && se.got == size-1 && err.Error() == fmt.Sprintf("%d bytes, want %d", size-1, size)
		}},
		{"long", 0, bytes.NewReader(append(bytes.Clone(data), 0)), nil, func(err error) bool {
			var se sizeError
			return errors.As(err, &se) && err.Error() == fmt.Sprintf("more than the declared %d bytes", size)
		}},
		{"source fails", 0, errAfter(data[:1000], broken), nil, func(err error) bool { return errors.Is(err, broken) }},
		{"source fails at its end", 0, errAfter(data, broken), nil, func(err error) bool { return errors.Is(err, broken) }},
		{"callback refuses the header", 0, bytes.NewReader(data), func(int64, []byte, int64, bool) error { return stop }, func(err error) bool { return errors.Is(err, stop) }},
		{"callback refuses a chunk", 0, bytes.NewReader(data), func(_ int64, _ []byte, content int64, _ bool) error {
			if content > 0 {
				return stop
			}
			return nil
		}, func(err error) bool { return errors.Is(err, stop) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f memFile
			err := writeRawFrame(&f, 0, size, tc.from, tc.src, tc.wrote)
			if err == nil || !tc.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestZeros(t *testing.T) {
	p := []byte("not zero")
	if n, err := (zeros{}).Read(p); n != len(p) || err != nil || !bytes.Equal(p, make([]byte, len(p))) {
		t.Fatalf("zeros read %d (%q), %v", n, p, err)
	}
}
