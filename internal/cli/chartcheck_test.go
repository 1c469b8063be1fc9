package cli

import (
	"errors"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/push"
)

// TestChartToCheckNamesFlag: which chart unbundle check-values checks; the messages of a bundle
// without a chart, and of several without --chart, name the flag (the layer below's sentinels
// stay wrapped).
func TestChartToCheckNamesFlag(t *testing.T) {
	one := &archive.Manifest{Chart: &archive.Chart{Name: "matrix-stack", Version: "1"}}
	two := &archive.Manifest{Charts: []archive.Chart{{Name: "a", Version: "1"}, {Name: "b", Version: "2"}}}
	for _, tc := range []struct {
		name, chart string
		m           *archive.Manifest
		want        string // the chart's name, or "" for an error
		sentinel    error
		says        []string
	}{
		{"the only chart", "", one, "matrix-stack", nil, nil},
		{"no chart", "", &archive.Manifest{}, "", push.ErrNoChart, []string{"no Helm chart", "made without --chart"}},
		{"several, none named", "", two, "", push.ErrWhichChart, []string{"2 charts (a, b)", "--chart NAME"}},
		{"several, one named", "b", two, "b", nil, nil},
		{"a name not there", "c", two, "", nil, []string{"no chart c", "a, b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := chartToCheck(tc.m, tc.chart)
			if tc.want != "" {
				if err != nil || rec.Name != tc.want {
					t.Fatalf("got %+v, %v; want %s", rec, err, tc.want)
				}
				return
			}
			if err == nil || tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			mustSay(t, "error", err.Error(), tc.says...)
		})
	}
}
