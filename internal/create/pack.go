package create

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// pack pulls the blobs the bundle does not hold in memory, jobs at a time (a small blob weighs a
// quarter of a job: forEachWeighted), largest first, each streamed from the registry straight to its place in the bundle, verified as it
// streams. A blob that an unfinished earlier run already wrote, and that still checks, is not
// pulled again (Writer.Resume); one it wrote part of, and a transfer that broke in this run,
// are taken up where they stopped with a ranged GET that continues the blob's hash
// (Writer.Continue, oci.OpenBlobAt); a blob that fails to verify is pulled again whole. With a
// cache (--cache), blobs are pulled into it and copied from it, so that later runs find them
// there. It returns what it kept from an unfinished run.
func pack(ctx context.Context, c *oci.Client, jobs int, w *archive.Writer, cache *cache.Dir, blobs []*blob, p mirror.Progress) (Kept, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		kept     Kept
	)
	// A small blob over a distant link is mostly its round trips: four of them take the place
	// of one large transfer, so that the link does not idle while they wait.
	weight := func(b *blob) int64 { return 1 + 3*min(b.Size, smallPull)/smallPull }
	mirror.ForEachWeighted(ctx, mirror.JobsOr(jobs), blobs, weight, func(_ int, b *blob) {
		resumed, err := packBlob(ctx, c, w, cache, b, p)
		mu.Lock()
		defer mu.Unlock()
		if resumed {
			kept.Blobs++
			kept.Bytes += b.Size
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("blob %s (%s) of %s: %w", b.Digest, b.Kind, b.repo, err)
			cancel() // the others stop; the bundle is not complete anyway
		}
	})
	st := w.ResumeStats()
	kept.Checked, kept.Verified, kept.Taken, kept.TakenBytes = st.Checked, st.Verified, st.Taken, st.TakenBytes
	if firstErr != nil {
		return kept, firstErr
	}
	return kept, ctx.Err()
}

// smallPull is the size under which a pull weighs less than a whole job (pack).
const smallPull = 4 << 20

// packBlob makes one blob's entry complete: recovered from an unfinished run (resumed), from
// the cache, or pulled.
func packBlob(ctx context.Context, c *oci.Client, w *archive.Writer, cache *cache.Dir, b *blob, p mirror.Progress) (resumed bool, err error) {
	name := archive.BlobName(b.Digest)
	ev := mirror.Event{Kind: "blob", Repo: b.repo, Digest: b.Digest, Size: b.Size}
	defer func() {
		if err == nil {
			mirror.Observe(p, ev)
		}
	}()
	if w.Resume(ctx, name) {
		p.Add(b.Size)
		ev.Phase = "kept"
		return true, nil
	}
	if cache != nil {
		ev.Phase = "cached"
		return false, packCached(ctx, c, w, cache, b, p)
	}
	ev.Phase = "pulled"
	return false, mirror.RetryBlob(ctx, c, func(ctx context.Context) error {
		from, state := w.Continue(name)
		rc, err := c.OpenBlobAt(ctx, b.repo, b.Digest, b.Size, from, state)
		if err != nil {
			return err
		}
		defer rc.Close() // the client's reader fails at its end unless size and digest matched
		p.Add(rc.From()) // what an earlier try or run wrote, counted once
		cr := mirror.NewCountReader(rc, p)
		if err := w.WriteEntryFrom(ctx, name, rc.From(), cr); err != nil {
			p.Add(-rc.From() - cr.N()) // the retry counts again
			return err
		}
		return nil
	})
}

// packCached copies the blob from the cache into the bundle, pulling it into the cache first
// when it is not there. An entry from an earlier run is verified as it is copied (after a power
// loss it may hold anything) and pulled again if it fails.
func packCached(ctx context.Context, c *oci.Client, w *archive.Writer, cache *cache.Dir, b *blob, p mirror.Progress) error {
	if cache.Has(b.Digest) {
		if err := copyCached(ctx, w, cache, b); err == nil {
			p.Add(b.Size)
			return nil
		}
		cache.Remove(b.Digest)
	}
	err := mirror.RetryBlob(ctx, c, func(ctx context.Context) error {
		rc, err := c.OpenBlob(ctx, b.repo, b.Digest, b.Size)
		if err != nil {
			return err
		}
		defer rc.Close()
		cr := mirror.NewCountReader(rc, p)
		enc, err := archive.NewEncoder()
		if err != nil {
			return err
		}
		err = cache.Put(b.Digest, func(dst io.Writer) error {
			bw := bufio.NewWriterSize(dst, 256<<10)
			if _, err := enc.EncodeData(bw, b.Size, cr); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			p.Add(-cr.N())
		}
		return err
	})
	if err != nil {
		return err
	}
	return copyCached(ctx, w, cache, b)
}

// copyCached writes the bundle entry of a cached blob, verifying the cache's copy as it reads.
func copyCached(ctx context.Context, w *archive.Writer, cache *cache.Dir, b *blob) error {
	f, err := cache.Open(b.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := archive.DecodeData(bufio.NewReaderSize(f, 256<<10), b.Digest, b.Size)
	if err != nil {
		return err
	}
	defer r.Close()
	return w.WriteEntry(ctx, archive.BlobName(b.Digest), r)
}

// plan counts what a run would pull: the blobs not in memory already and not in the cache
// directory dir, if any (looked at without creating it).
func plan(blobs []*blob, external []archive.Blob, dir string) Plan {
	var p Plan
	for _, b := range blobs {
		p.Blobs++
		p.Bytes += b.Size
		if b.data != nil {
			continue
		}
		if dir != "" && cache.Exists(dir, b.Digest) {
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
