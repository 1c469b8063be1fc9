package create

import (
	"errors"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
)

// TestMissing: a partial bundle records, in key order, every source that failed and no other,
// as the list gave it (tag, listed digest), with the values path of a chart's block and the
// reason, bounded.
func TestMissing(t *testing.T) {
	sources := []digests.Image{
		{Entry: imageref.Entry{Component: "z", Container: "last", Server: "r", Path: "z", Tag: "1"}},
		{Entry: imageref.Entry{Component: "a", Container: "first", Server: "r", Path: "a"}, Digest: "sha256:" + strings.Repeat("a", 64)},
		{Entry: imageref.Entry{Component: "m", Container: "ok", Server: "r", Path: "m", Tag: "2"}},
		{Entry: imageref.Entry{Component: "stack", Container: "synapse.image", Server: "r", Path: "s", Tag: "3"}},
	}
	long := errors.New(strings.Repeat("x", 3*maxReason))
	failed := map[string]error{
		"z.last":              errors.New("manifest unknown"),
		"a.first":             long,
		"stack.synapse.image": errors.New("denied"),
		"not.a-source":        errors.New("ignored"),
	}
	got := missing(sources, failed, map[string]string{"stack.synapse.image": "synapse.image"})
	var keys []string
	for _, m := range got {
		keys = append(keys, m.Key())
	}
	if strings.Join(keys, " ") != "a.first stack.synapse.image z.last" {
		t.Fatalf("missing %v", keys)
	}
	if a := got[0]; a.ListedDigest != sources[1].Digest || a.Tag != "" || a.Server != "r" || a.Path != "a" ||
		len(a.Reason) != maxReason+3 || !strings.HasSuffix(a.Reason, "...") {
		t.Errorf("a.first: %+v (reason %d bytes)", a, len(a.Reason))
	}
	if s := got[1]; s.ValuesPath != "synapse.image" || s.Reason != "denied" {
		t.Errorf("block: %+v", s)
	}
	if z := got[2]; z.Tag != "1" || z.ValuesPath != "" || z.Reason != "manifest unknown" {
		t.Errorf("z.last: %+v", z)
	}
	if got := missing(sources, nil, nil); got != nil {
		t.Errorf("nothing failed: %+v", got)
	}
}

// TestBlockPaths: every image block of every chart is known by its key, NAME.<values path>.
func TestBlockPaths(t *testing.T) {
	charts := []*Chart{
		{Chart: &chart.Chart{Name: "one"}, Blocks: []chart.Block{{Path: "synapse.image"}, {Path: "matrixRTC.sfu.image"}}},
		{Chart: &chart.Chart{Name: "two"}, Blocks: []chart.Block{{Path: "synapse.image"}}},
	}
	got := blockPathsOf(charts)
	want := map[string]string{"one.synapse.image": "synapse.image", "one.matrixRTC.sfu.image": "matrixRTC.sfu.image", "two.synapse.image": "synapse.image"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(blockPathsOf(nil)) != 0 {
		t.Error("no charts, yet blocks")
	}
}
