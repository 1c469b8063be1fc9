package inspect

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/graph"
)

// Meter counts the bytes Verify reads, out of the total it sets first.
type Meter interface {
	archive.Counter
	SetTotal(n int64)
}

// Verified is what Verify found, whether or not the bundle passed.
type Verified struct {
	// Result is trust.VerifySet's: nil when nothing could be read. With a part lost or
	// damaged its Parts hold every part, the bad ones with their problem.
	Result *archive.Result
	// BadParts are the parts lost or damaged, as the parts.Error returned names them.
	BadParts []parts.Status
	// Users maps the digest of each entry found bad to the containers (component.container)
	// that use it, read from the bundle's graph; nil when none is bad or the graph could not
	// be read.
	Users map[string][]string
}

// Verify checks the located bundle s (trust.VerifySet): its checksum file, every part of a
// bundle in parts, every entry's digest and size, the layout. It returns what it found even
// when it fails. A bundle whose entries failed verification is an error wrapping
// archive.ErrCorrupt that names the bundle and how many failed; a part lost or damaged, an
// *parts.Error. On success Result.SHA256 is the joined file's (from the checksum file,
// for a bundle in parts whose parts are not read in order). m may be nil.
func Verify(ctx context.Context, s *trust.Set, m Meter) (*Verified, error) {
	var counter archive.Counter
	if m != nil {
		m.SetTotal(Size(s))
		counter = m
	}
	res, err := trust.VerifySet(ctx, s, counter)
	v := &Verified{Result: res}
	if res != nil && len(res.Bad) > 0 {
		v.Users = blobUsers(ctx, s)
	}
	var pe *parts.Error
	if errors.As(err, &pe) {
		v.BadParts = pe.Bad
		if v.Result == nil {
			v.Result = &archive.Result{}
		}
		v.Result.Parts = mergeParts(v.Result.Parts, pe.Bad)
	}
	if err != nil {
		return v, err
	}
	if len(res.Bad) > 0 {
		return v, fmt.Errorf("%s: %w: %d entries failed verification", s.Name, archive.ErrCorrupt, len(res.Bad))
	}
	if res.SHA256 == "" && s.Sums != nil {
		res.SHA256 = s.Sums.SHA256
	}
	return v, nil
}

// Size is how many bytes verifying the bundle reads, for a progress bar: every part, data and
// parity, of a bundle in parts; the file of a whole one (0 when it cannot be read).
func Size(s *trust.Set) int64 {
	if s.Sums != nil && s.Sums.Split() {
		return s.Sums.Size + int64(len(s.Sums.Parity))*s.Sums.PartSize
	}
	if st, err := os.Stat(s.Whole); err == nil {
		return st.Size()
	}
	return 0
}

// mergeParts puts the parts found bad into the list of every part (bad ones alone when the
// list is empty).
func mergeParts(all, bad []parts.Status) []parts.Status {
	if len(all) == 0 {
		return bad
	}
	byName := map[string]parts.Status{}
	for _, b := range bad {
		byName[b.Name] = b
	}
	for i, p := range all {
		if b, ok := byName[p.Name]; ok {
			all[i] = b
		}
	}
	return all
}

// blobUsers maps blob digests to the containers using them; best effort (for messages).
func blobUsers(ctx context.Context, s *trust.Set) map[string][]string {
	b, err := trust.OpenSet(s)
	if err != nil {
		return nil
	}
	defer b.Close()
	g, err := graph.Read(ctx, b)
	if err != nil {
		return nil
	}
	return g.BlobUsers()
}
