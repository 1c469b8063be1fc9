package mirror

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// pack pulls blobs in parallel (the client's jobs at a time) into the cache, each verified and
// encoded as the frame the bundle stores, and appends them to the bundle in order as they
// complete, at most a few blobs behind the pulls. Blobs already in the cache are not pulled.
// Unless keep is set, a blob leaves the cache once appended: a run killed after that finds it
// in the unfinished bundle instead (see salvage), so the extra disk stays a few blobs.
func pack(ctx context.Context, c *oci.Client, w *archive.Writer, cache *cache.Dir, blobs []*blob, keep bool, p Progress) error {
	ctx, cancel := context.WithCancel(ctx)
	jobs := c.Jobs()
	ready := make([]chan error, len(blobs))
	for i := range ready {
		ready[i] = make(chan error, 1)
	}
	ahead := make(chan struct{}, 2*jobs) // blobs pulled but not yet appended
	work := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, encErr := archive.NewEncoder()
			for i := range work {
				err := encErr
				if err == nil {
					err = fetch(ctx, c, cache, enc, blobs[i], p)
				}
				ready[i] <- err
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range blobs {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }() // cancel first: it frees the dispatcher, which closes work
	for i, b := range blobs {
		var err error
		select {
		case err = <-ready[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err == nil {
			err = appendCached(w, cache, b)
		}
		if err != nil {
			return fmt.Errorf("blob %s (%s) of %s: %w", b.Digest, b.Kind, b.repo, err)
		}
		if !keep {
			cache.Remove(b.Digest)
		}
		<-ahead
	}
	return nil
}

// fetch pulls one blob into the cache, unless a verified copy is there already. A transfer
// that breaks is started again.
func fetch(ctx context.Context, c *oci.Client, cache *cache.Dir, enc *archive.Encoder, b *blob, p Progress) error {
	if cache.Has(b.Digest) {
		if err := checkCached(cache, b); err == nil {
			p.Add(b.Size)
			return nil
		}
		cache.Remove(b.Digest) // damaged (a crash, a full disk): pull it again
	}
	return retryBlob(ctx, func() error {
		rc, err := c.OpenBlob(ctx, b.repo, b.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		cr := &countReader{r: rc, p: p}
		err = cache.Put(b.Digest, func(dst io.Writer) error {
			bw := bufio.NewWriterSize(dst, 256<<10)
			if _, err := enc.EncodeData(bw, b.Size, cr); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			p.Add(-cr.n)
		}
		return err
	})
}

// plan counts what a run would pull: the blobs not in memory already and not in the cache dir
// (looked at without creating it).
func plan(blobs []*blob, external []archive.Blob, dir string) Plan {
	var p Plan
	for _, b := range blobs {
		p.Blobs++
		p.Bytes += b.Size
		if b.data != nil {
			continue
		}
		if cache.Exists(dir, b.Digest) {
			p.Cached++
			p.CachedBytes += b.Size
			continue
		}
		p.Pull += b.Size
	}
	for _, b := range external {
		p.External++
		p.ExternalBytes += b.Size
	}
	return p
}

// salvage moves the blobs a killed run had already written into its unfinished bundle back
// into the cache, where fetch verifies them before use, so the rerun does not pull them again.
func salvage(partial string, c *cache.Dir) error {
	err := archive.Salvage(partial, func(digest string, size int64, frame io.Reader) error {
		if c.Has(digest) {
			return nil
		}
		return c.Put(digest, func(w io.Writer) error {
			_, err := io.Copy(w, frame)
			return err
		})
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// checkCached verifies a cache entry this process did not write.
func checkCached(cache *cache.Dir, b *blob) error {
	f, err := cache.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	return archive.CheckData(bufio.NewReaderSize(f, 256<<10), b.Digest, b.Size)
}

func appendCached(w *archive.Writer, cache *cache.Dir, b *blob) error {
	f, err := cache.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	return w.AddEncoded(archive.BlobName(b.Digest), b.Digest, b.Size, f)
}

func addBytes(w *archive.Writer, name string, data []byte) error {
	d := verify.Digest(data)
	return w.Add(name, d, int64(len(data)), verify.NewReader(bytes.NewReader(data), d, int64(len(data))))
}

type countReader struct {
	r io.Reader
	p Progress
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	c.n += int64(n)
	return n, err
}
