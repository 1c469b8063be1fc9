package archive

import (
	"bytes"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/klauspost/compress/zstd"
)

// An entry is stored as two zstd frames: one holding its tar header, made by the Writer, and
// one holding its data and the tar padding. The data frame depends on the content alone, so it
// can be made ahead, in parallel, and kept in a cache across runs (see EncodeData).

// Encoder compresses entry data into frames. Not safe for concurrent use: one per goroutine.
type Encoder struct{ z *zstd.Encoder }

// NewEncoder makes an Encoder with the bundle's settings: level fastest, one thread, an 8 MiB
// window, a content checksum. The same input always gives the same frame.
func NewEncoder() (*Encoder, error) {
	z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	return &Encoder{z: z}, nil
}

// EncodeData writes to dst one zstd frame holding exactly size bytes read from src followed by
// the tar padding. It then reads src to io.EOF: a verifying src fails there on a mismatch, and
// so does EncodeData. It returns the number of compressed bytes written.
func (e *Encoder) EncodeData(dst io.Writer, size int64, src io.Reader) (int64, error) {
	cw := &countWriter{w: dst}
	e.z.Reset(cw)
	n, err := io.Copy(e.z, io.LimitReader(src, size))
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("%d bytes, want %d", n, size)
	}
	var one [1]byte
	if m, err := src.Read(one[:]); m > 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("more than the declared %d bytes", size)
		}
		return 0, err
	}
	if pad := padding(size); pad > 0 {
		if _, err := e.z.Write(make([]byte, pad)); err != nil {
			return 0, err
		}
	}
	if err := e.z.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

// encodeRaw writes b as one frame (for tar headers and the end-of-archive blocks).
func (e *Encoder) encodeRaw(dst io.Writer, b []byte) error {
	e.z.Reset(dst)
	if _, err := e.z.Write(b); err != nil {
		return err
	}
	return e.z.Close()
}

const blockSize = 512

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// DecodeData returns a reader of the content of a data frame made by EncodeData (for instance
// one left in a cache by an earlier run): exactly size bytes, verified against digest, then the
// tar padding; the read fails, instead of ending, unless all of it is right. The caller closes it.
func DecodeData(frame io.Reader, digest string, size int64) (io.ReadCloser, error) {
	d, err := newDecoder()
	if err != nil {
		return nil, err
	}
	if err := d.Reset(frame); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &dataReader{r: verify.NewReader(io.LimitReader(d, size), digest, size), d: d, size: size, digest: digest}, nil
}

type dataReader struct {
	r      io.Reader
	d      *zstd.Decoder
	size   int64
	digest string
}

func (r *dataReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		pad, perr := io.ReadAll(io.LimitReader(r.d, blockSize))
		if perr != nil || int64(len(pad)) != padding(r.size) || !bytes.Equal(pad, make([]byte, len(pad))) {
			err = fmt.Errorf("%w: data frame of %s: bad padding", ErrCorrupt, r.digest)
		}
	}
	return n, err
}

func (r *dataReader) Close() error {
	r.d.Close()
	return nil
}
