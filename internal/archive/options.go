package archive

import (
	"errors"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// Option configures Create.
type Option func(*Writer)

// WithParts writes the bundle in parts of size bytes each (the last holds the rest; a layer
// larger than size spans parts), and parity parts that rebuild any parity of the parts lost or
// damaged. Default: one file (size 0), no parity.
func WithParts(size int64, parity int) Option {
	return func(w *Writer) { w.partSize, w.parity = size, parity }
}

// checkParts checks the options against the bundle's size, once it is laid out.
func (w *Writer) checkParts() error {
	n := parts.Count(w.size, w.partSize)
	switch {
	case w.partSize < 0 || w.parity < 0:
		return fmt.Errorf("bundle parts: size %d and parity %d must not be negative", w.partSize, w.parity)
	case w.parity > 0 && w.partSize == 0:
		return errors.New("bundle parts: parity parts need the bundle in parts")
	case n > parts.MaxData:
		return fmt.Errorf("bundle of %d bytes in parts of %d bytes: %d parts, at most %d: choose a larger part size", w.size, w.partSize, n, parts.MaxData)
	case w.parity > 0 && n+w.parity > parts.MaxShards:
		return fmt.Errorf("bundle of %d bytes in parts of %d bytes: %d parts and %d parity parts, at most %d in all: choose a larger part size", w.size, w.partSize, n, w.parity, parts.MaxShards)
	}
	return nil
}

// bothWriter writes to a and b at once, b in another goroutine: hashing the file and its parts
// takes two cores where there are two, and no longer than one hash where the writers leave one.
type bothWriter struct{ a, b io.Writer }

func (w bothWriter) Write(p []byte) (int, error) {
	done := make(chan error, 1)
	go func() {
		_, err := w.b.Write(p)
		done <- err
	}()
	n, err := w.a.Write(p)
	if berr := <-done; err == nil {
		err = berr
	}
	return n, err
}

// newPartHasher hashes the parts of a bundle in parts; nil for one file.
func (w *Writer) newPartHasher() *parts.Hasher {
	if w.partSize == 0 {
		return nil
	}
	return parts.NewHasher(w.partSize)
}
