package provenance

import (
	"context"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
)

// MaxTrustedRootSize bounds a trusted_root.json (the public-good one is about 7 KB).
const MaxTrustedRootSize = 4 << 20

// fetchTimeout bounds the TUF update of FetchTrustedRoot.
const fetchTimeout = 2 * time.Minute

// TrustedRoot is a Sigstore trusted root: the Fulcio certificate authorities, Rekor and CT
// log keys and timestamp authorities a signature is checked against, with its JSON as read.
type TrustedRoot struct {
	JSON []byte
	tr   *root.TrustedRoot
}

// ParseTrustedRoot reads a trusted_root.json (as `cosign trusted-root create` writes it, or
// as the Sigstore TUF repository serves it). name is the file, for messages.
func ParseTrustedRoot(name string, data []byte) (*TrustedRoot, error) {
	if len(data) > MaxTrustedRootSize {
		return nil, fmt.Errorf("%w %s: %d bytes, more than the %d allowed", ErrTrustedRoot, name, len(data), MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrTrustedRoot, name, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 && len(tr.RekorLogs()) == 0 {
		return nil, fmt.Errorf("%w %s: no certificate authority and no Rekor log: nothing to check a signature against", ErrTrustedRoot, name)
	}
	return &TrustedRoot{JSON: data, tr: tr}, nil
}

// FetchTrustedRoot fetches the public-good Sigstore instance's trusted_root.json over TUF
// (sigstore-go's client, its embedded TUF root, the cache in ~/.sigstore/root), as cosign
// does: for the connected side only. It gives up when ctx ends or after two minutes; an
// error fetching it wraps ErrTrustedRootFetch.
func FetchTrustedRoot(ctx context.Context) (*TrustedRoot, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	type answer struct {
		data []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() { // the TUF client takes no context for its downloads
		c, err := tuf.New(tuf.DefaultOptions().WithContext(ctx))
		if err != nil {
			done <- answer{err: err}
			return
		}
		data, err := c.GetTarget("trusted_root.json")
		done <- answer{data, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: fetching it over TUF from %s: %v", ErrTrustedRootFetch, tuf.DefaultMirror, ctx.Err())
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("%w: fetching it over TUF from %s: %v", ErrTrustedRootFetch, tuf.DefaultMirror, a.err)
		}
		return ParseTrustedRoot(tuf.DefaultMirror+"/trusted_root.json", a.data)
	}
}
