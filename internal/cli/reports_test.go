package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
)

// TestFailures: the report's failures are every failed container, sorted, with its error; an
// empty list (not null) when none failed.
func TestFailures(t *testing.T) {
	got := failures(map[string]error{"z.z": errors.New("last"), "a.a": errors.New("first")})
	if len(got) != 2 || got[0] != (report.Failure{Container: "a.a", Error: "first"}) || got[1].Container != "z.z" {
		t.Errorf("failures %+v", got)
	}
	if got := failures(nil); got == nil || len(got) != 0 {
		t.Errorf("none: %#v", got)
	}
}

// TestParts: a bundle in parts lists its data parts (.001 ...) then its parity parts (.p01
// ...), with their sums; one file lists none.
func TestParts(t *testing.T) {
	if got := partList(&parts.Sums{Name: "b.tar.zst"}); got != nil {
		t.Errorf("one file: %+v", got)
	}
	got := partList(&parts.Sums{Name: "b.tar.zst", PartSize: 10, Parts: []string{"s1", "s2"}, Parity: []string{"p1"}})
	want := []report.Part{{Name: "b.tar.zst.001", SHA256: "s1"}, {Name: "b.tar.zst.002", SHA256: "s2"}, {Name: "b.tar.zst.p01", Parity: true, SHA256: "p1"}}
	if len(got) != len(want) {
		t.Fatalf("parts %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("part %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestTotals: a delta's external layers are counted apart.
func TestTotals(t *testing.T) {
	m := &archive.Manifest{External: []archive.Blob{{Size: 5}, {Size: 7}}}
	m.Totals.Images, m.Totals.Blobs, m.Totals.BlobBytes = 2, 3, 100
	got := totals(m)
	if got != (report.CreateTotals{Images: 2, Blobs: 3, BlobBytes: 100, ExternalBlobs: 2, ExternalBytes: 12}) {
		t.Errorf("totals %+v", got)
	}
}

// TestVerifyReport: a failed verify reports its error and every bad entry with the containers
// that use it (an empty list, not null, when none does).
func TestVerifyReport(t *testing.T) {
	start := time.Now()
	res := &archive.Result{SHA256: "abc", Checksum: "matched", Bad: []*archive.EntryError{
		{Name: "blobs/sha256/1", Digest: "sha256:1", Err: errors.New("digest mismatch")},
		{Name: "blobs/sha256/2", Digest: "sha256:2", Err: errors.New("short")},
	}}
	err := errors.New("b.tar.zst: bundle is corrupt: 2 entries failed verification")
	r := verifyReport("b.tar.zst", res, map[string][]string{"sha256:1": {"a.b", "c.d"}}, start, err)
	if r.OK || r.Error != err.Error() || r.SHA256 != "abc" || len(r.Bad) != 2 || strings.Join(r.Bad[0].UsedBy, ",") != "a.b,c.d" ||
		r.Bad[1].UsedBy == nil || len(r.Bad[1].UsedBy) != 0 || r.Bad[1].Error != "short" || r.Finished.Before(r.Started) {
		t.Errorf("report %+v", r)
	}
	if r := verifyReport("b", nil, nil, start, nil); !r.OK || r.Bad == nil || r.Error != "" {
		t.Errorf("no result: %+v", r)
	}
}

// TestProblems: a problem with no repository says so with an empty list, not null.
func TestProblems(t *testing.T) {
	got := problems([]push.Problem{{Cause: "c", Fix: "f"}, {Cause: "d", Repos: []string{"r"}}})
	if len(got) != 2 || got[0].Repositories == nil || len(got[0].Repositories) != 0 || got[1].Repositories[0] != "r" || got[0].Fix != "f" {
		t.Errorf("problems %+v", got)
	}
}
