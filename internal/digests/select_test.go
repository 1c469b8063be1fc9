package digests

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

func parseTestdata(t *testing.T, name string) *List {
	t.Helper()
	l, err := ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSelect(t *testing.T) {
	l := parseTestdata(t, "images_digests.ess-2310.yml")
	all := keys(l.Images)
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(k string) bool {
			for _, d := range drop {
				if k == d || strings.HasPrefix(k, d+".") {
					return true
				}
			}
			return false
		})
	}
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
		is               error
		mention          []string // in the error text
	}{
		{name: "all", want: all},
		{name: "component", include: []string{"synapse"}, want: []string{"synapse.haproxy", "synapse.redis", "synapse.synapse"}},
		{name: "container", include: []string{"synapse.redis", "adminbot.pipe"}, want: []string{"adminbot.pipe", "synapse.redis"}},
		{name: "component and container overlap", include: []string{"sliding_sync", "sliding_sync.api"}, want: []string{"sliding_sync.api", "sliding_sync.poller"}},
		{name: "exclude component", exclude: []string{"operator", "updater", "postgresql"}, want: without("operator", "updater", "postgresql")},
		{name: "exclude container", exclude: []string{"synapse.redis"}, want: without("synapse.redis")},
		{name: "exclude after include", include: []string{"synapse"}, exclude: []string{"synapse.haproxy"}, want: []string{"synapse.redis", "synapse.synapse"}},
		{name: "unknown component", include: []string{"synapse", "synaps"}, is: ErrNoMatch, mention: []string{`"synaps"`, "adminbot, auditbot, element_call"}},
		{name: "unknown container", include: []string{"synapse.redsi"}, is: ErrNoMatch, mention: []string{`"synapse.redsi"`, "haproxy, redis, synapse"}},
		{name: "unknown exclude", exclude: []string{"postgres"}, is: ErrNoMatch, mention: []string{`exclude "postgres"`, "postgresql"}},
		{name: "malformed pattern", include: []string{"synapse."}, is: ErrNoMatch, mention: []string{`"synapse."`}},
		{name: "empty pattern", exclude: []string{""}, is: ErrNoMatch, mention: []string{`""`}},
		{name: "exclude all", exclude: l.components(), is: ErrEmptySelection},
		{name: "include then exclude all", include: []string{"synapse.redis"}, exclude: []string{"synapse"}, is: ErrEmptySelection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := l.Select(tt.include, tt.exclude)
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %v", err, tt.is)
				}
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %s", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(sel.Images); !slices.Equal(got, tt.want) || sel.File != l.File {
				t.Errorf("selected %v (file %q), want %v", got, sel.File, tt.want)
			}
		})
	}
	if got := keys(l.Images); !slices.Equal(got, all) {
		t.Errorf("Select modified the list")
	}
}

func TestGroups(t *testing.T) {
	tests := []struct {
		file   string
		groups int
		want   [][]string // the members of the first groups
	}{
		{"images_digests.example.yml", 3, [][]string{
			{"adminbot.access_element_web", "auditbot.access_element_web"},
			{"adminbot.haproxy", "auditbot.haproxy"},
			{"adminbot.pipe", "auditbot.pipe"},
		}},
		{"images_digests.ess-2310.yml", 27, [][]string{
			{"adminbot.access_element_web", "auditbot.access_element_web"},
			{"adminbot.haproxy", "auditbot.haproxy", "synapse.haproxy"},
			{"adminbot.pipe", "auditbot.pipe"},
			{"element_call.element_call"},
			{"element_call.jwt"},
			{"element_call.redis", "synapse.redis"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			l := parseTestdata(t, tt.file)
			checkGroups(t, l, tt.groups, tt.want)
		})
	}
}

func TestGroupsSameSource(t *testing.T) {
	img := func(comp, server, tag, digest string) Image {
		return Image{Entry: imageref.Entry{Component: comp, Container: "x", Server: server, Path: "library/redis", Tag: tag}, Digest: digest}
	}
	l := &List{Images: []Image{
		img("a", "docker.io", "7.2", ""),
		img("b", "Docker.IO", "7.2", ""), // the server compares case-insensitively
		img("c", "docker.io", "7.4", ""), // another tag
		img("d", "docker.io", "7.2", d1), // the same tag pinned to a digest
		img("e", "quay.io", "7.2", ""),   // another server
		img("f", "docker.io", "7.2", d1),
	}}
	checkGroups(t, l, 4, [][]string{{"a.x", "b.x"}, {"c.x"}, {"d.x", "f.x"}, {"e.x"}})
}

// checkGroups checks l.Groups: n groups, the first ones with the members want, each
// member the same source as its group's Source, the first member, and every image in one group.
func checkGroups(t *testing.T, l *List, n int, want [][]string) {
	t.Helper()
	groups := l.Groups()
	if len(groups) != n {
		t.Fatalf("%d groups, want %d", len(groups), n)
	}
	total := 0
	for i, g := range groups {
		total += len(g.Members)
		if g.Source != g.Members[0] {
			t.Errorf("group %d: source %s is not its first member %s", i, g.Source.Key(), g.Members[0].Key())
		}
		for _, m := range g.Members {
			if !m.SameSource(g.Source) {
				t.Errorf("group %d: %s is not the same source as %s", i, m.Key(), g.Source.Key())
			}
		}
		if i < len(want) && !slices.Equal(keys(g.Members), want[i]) {
			t.Errorf("group %d = %v, want %v", i, keys(g.Members), want[i])
		}
	}
	if total != len(l.Images) {
		t.Errorf("groups hold %d images, want %d", total, len(l.Images))
	}
}
