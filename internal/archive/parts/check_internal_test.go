package parts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// TestCountedReaderStops: a stopped context stops the copy of a part's bytes with its error
// before anything is copied.
func TestCountedReaderStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var dst bytes.Buffer
	_, err := io.CopyBuffer(&dst, &countedReader{ctx: ctx, r: bytes.NewReader(make([]byte, 100))}, make([]byte, 1<<20))
	if !errors.Is(err, context.Canceled) || dst.Len() != 0 {
		t.Fatalf("countedReader: %v, %d bytes", err, dst.Len())
	}
}
