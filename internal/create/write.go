package create

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cache"
	"github.com/element-hq/ess-airgap/internal/mirror"
)

// write streams the bundle: its manifest, layout and index, the blobs held in memory, the
// blobs pulled (or taken from the cache, or kept from the unfinished run), then the plain
// files. It commits the bundle unless images failed without AllowPartial; then the .partial
// stays, with every layer pulled, for the rerun.
func (r *creation) write(ctx context.Context) (*Created, error) {
	o, m := r.o, r.m
	pl := plan(r.blobs, r.external, o.Cache) // before the run fills the cache
	var cached *cache.Dir
	if o.Cache != "" {
		var err error
		if cached, err = cache.Open(o.Cache); err != nil {
			return nil, err
		}
	}
	entries, remote, inMem, err := r.entries()
	if err != nil {
		return nil, err
	}
	w, err := archive.Create(o.Output, o.Created, entries, archive.WithParts(o.PartSize, o.Parity))
	if err != nil {
		return nil, err
	}
	defer w.Close() // an unfinished bundle stays, for the rerun to resume
	o.Progress.Add(inMem)
	kept, err := pack(ctx, r.c, o.Jobs, w, cached, remote, o.Progress)
	if err != nil {
		return nil, err
	}
	if err := writeFiles(ctx, w, o.Files, m.Files, o.Progress); err != nil {
		return nil, err
	}
	if len(r.failed) > 0 && !o.AllowPartial { // the .partial stays, with every layer pulled
		res := &Created{Manifest: m, Failed: r.failed, Kept: kept, Skipped: r.skipped, Unfinished: true, Plan: pl}
		return res, mirror.FailedError(fmt.Errorf("%w: %d of %d containers could not be pulled; no bundle written", mirror.ErrPartial, len(r.failed), len(r.sources)), r.failed)
	}
	sum, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	res := &Created{Manifest: m, SHA256: sum, Failed: r.failed, Kept: kept, Skipped: r.skipped, Provenance: r.verdicts, Plan: pl}
	if len(r.failed) > 0 {
		return res, mirror.FailedError(fmt.Errorf("%w: %d of %d containers left out of the bundle", mirror.ErrPartial, len(r.failed), len(r.sources)), r.failed)
	}
	return res, nil
}

// entries are the bundle's entries in order, the blobs to pull (not held in memory), and the
// bytes of those held in memory.
func (r *creation) entries() (entries []archive.Entry, remote []*blob, inMem int64, err error) {
	mj, err := json.MarshalIndent(r.m, "", "  ")
	if err != nil {
		return nil, nil, 0, err
	}
	entries = []archive.Entry{inMemory(archive.ManifestName, mj), inMemory(archive.LayoutName, r.layout), inMemory(archive.IndexName, r.index)}
	for _, b := range r.blobs {
		if b.data != nil {
			entries = append(entries, inMemory(archive.BlobName(b.Digest), b.data))
			inMem += b.Size
		} else {
			entries = append(entries, archive.Entry{Name: archive.BlobName(b.Digest), Digest: b.Digest, Size: b.Size})
			remote = append(remote, b)
		}
	}
	for _, f := range r.m.Files {
		entries = append(entries, archive.Entry{Name: f.Name, Digest: f.Digest, Size: f.Size, Executable: f.Executable})
	}
	return entries, remote, inMem, nil
}
