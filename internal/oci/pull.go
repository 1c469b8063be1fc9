package oci

import (
	"context"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
)

// Manifest is a manifest or index as the registry served it: the exact bytes, their media type
// and their digest (the sha256 of those bytes).
type Manifest struct {
	Raw       []byte
	MediaType string
	Digest    string
}

// GetManifest fetches the manifest or index that ref ("host/path:tag" or "host/path@digest")
// names, as its raw bytes, through the host's mirror if it has one (WithMirror). A reference by digest is verified against the bytes, and read from
// WithLocal's content when it has it; a reference by tag returns the digest of the bytes served.
func (c *Client) GetManifest(ctx context.Context, ref string) (*Manifest, error) {
	r, mirror, err := c.pullReference(ref)
	if err != nil {
		return nil, err
	}
	if dr, ok := r.(name.Digest); ok {
		if m := c.localManifest(dr.DigestStr()); m != nil {
			return m, nil
		}
	}
	d, err := c.puller.Get(ctx, r)
	if err != nil {
		return nil, through(mirror, describe(err))
	}
	m := &Manifest{Raw: d.Manifest, MediaType: string(d.MediaType), Digest: verify.Digest(d.Manifest)}
	if dr, ok := r.(name.Digest); ok && dr.DigestStr() != m.Digest {
		return nil, through(mirror, fmt.Errorf("%s: %w: the registry served content hashing to %s", ref, verify.ErrMismatch, m.Digest))
	}
	return m, nil
}

// OpenBlob streams the blob digest of repository repo ("host/path"), from WithLocal's content
// when it has it. The reader is verified (size and digest) and, from a registry, holds one of
// the client's job tokens until closed: read and close it in the goroutine that opened it.
func (c *Client) OpenBlob(ctx context.Context, repo, digest string) (io.ReadCloser, error) {
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	if c.o.local != nil {
		if rc, _, ok := c.o.local.ByDigest(digest); ok {
			return rc, nil
		}
	}
	l, err := c.puller.Layer(ctx, r.Digest(digest))
	if err != nil {
		return nil, through(mirror, describe(err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, through(mirror, describe(err))
	}
	return rc, nil
}

// localManifest is the manifest with this digest from WithLocal's content, or nil when it does
// not have it, or has something else under that name.
func (c *Client) localManifest(digest string) *Manifest {
	if c.o.local == nil {
		return nil
	}
	rc, mt, ok := c.o.local.ByDigest(digest)
	if !ok {
		return nil
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, manifest.MaxBytes+1))
	if err != nil || len(raw) > manifest.MaxBytes || mt == "" || verify.Digest(raw) != digest {
		return nil
	}
	return &Manifest{Raw: raw, MediaType: mt, Digest: digest}
}
