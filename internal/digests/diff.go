package digests

import (
	"fmt"
	"sort"
	"strings"
)

// Changes is what going from one image list to another brings, entry by entry
// (component.container). It knows nothing of bundles: what the blobs weigh is the caller's
// business. Its JSON form is stable: every list is sorted by key and always present.
type Changes struct {
	Added     []Entry  `json:"added"`     // in the new list only
	Removed   []Entry  `json:"removed"`   // in the old list only
	Changed   []Change `json:"changed"`   // in both, with at least one field that differs
	Unchanged int      `json:"unchanged"` // in both, with no field that differs
}

// Entry is one container's image as a diff reports it.
type Entry struct {
	Key    string `json:"key"` // component.container
	Server string `json:"server"`
	Path   string `json:"path"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// Change is a container present on both sides whose image differs.
type Change struct {
	Key    string        `json:"key"`
	Fields []FieldChange `json:"fields"` // in the order server, path, tag, digest
}

// FieldChange is one field of a Change; an empty Old or New means the side does not set it.
type FieldChange struct {
	Field string `json:"field"` // "server", "path", "tag" or "digest"
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Diff compares two image lists by component.container. Servers compare without regard to case
// (as host names do); path and tag exactly, as written. A digest is compared only when both
// sides give one: a list that names a tag alone does not say which content it is, so a missing
// digest is not reported as a change. Each key should appear once on a side; when it does
// not, the last entry counts. Neither slice is modified.
func Diff(old, new []Image) Changes {
	oldBy := byKey(old)
	newBy := byKey(new)
	c := Changes{Added: []Entry{}, Removed: []Entry{}, Changed: []Change{}}
	for _, k := range sortedKeys(oldBy) {
		if _, ok := newBy[k]; !ok {
			c.Removed = append(c.Removed, diffEntry(oldBy[k]))
		}
	}
	for _, k := range sortedKeys(newBy) {
		n := newBy[k]
		o, ok := oldBy[k]
		if !ok {
			c.Added = append(c.Added, diffEntry(n))
			continue
		}
		var fs []FieldChange
		if !strings.EqualFold(o.Server, n.Server) {
			fs = append(fs, FieldChange{"server", o.Server, n.Server})
		}
		if o.Path != n.Path {
			fs = append(fs, FieldChange{"path", o.Path, n.Path})
		}
		if o.Tag != n.Tag {
			fs = append(fs, FieldChange{"tag", o.Tag, n.Tag})
		}
		if o.Digest != "" && n.Digest != "" && o.Digest != n.Digest {
			fs = append(fs, FieldChange{"digest", o.Digest, n.Digest})
		}
		if len(fs) == 0 {
			c.Unchanged++
		} else {
			c.Changed = append(c.Changed, Change{Key: k, Fields: fs})
		}
	}
	return c
}

// Text renders the changes for a terminal: one line per added or removed container with its
// image ("server/path:tag@digest"), one line per changed container followed by one indented
// line per field ("old -> new", "(none)" for an empty side), then the summary line
// "N added, N removed, N changed, N unchanged".
func (c Changes) Text() string {
	width := 0
	for _, e := range append(append([]Entry{}, c.Added...), c.Removed...) {
		width = max(width, len(e.Key))
	}
	var b strings.Builder
	for _, e := range c.Added {
		fmt.Fprintf(&b, "added    %-*s  %s\n", width, e.Key, e.ref())
	}
	for _, e := range c.Removed {
		fmt.Fprintf(&b, "removed  %-*s  %s\n", width, e.Key, e.ref())
	}
	for _, ch := range c.Changed {
		fmt.Fprintf(&b, "changed  %s\n", ch.Key)
		for _, f := range ch.Fields {
			fmt.Fprintf(&b, "           %-6s  %s -> %s\n", f.Field, orNone(f.Old), orNone(f.New))
		}
	}
	fmt.Fprintf(&b, "%s\n", c.Summary())
	return b.String()
}

// Summary is "N added, N removed, N changed, N unchanged".
func (c Changes) Summary() string {
	return fmt.Sprintf("%d added, %d removed, %d changed, %d unchanged", len(c.Added), len(c.Removed), len(c.Changed), c.Unchanged)
}

// ref is "server/path", then ":tag" and "@digest" when set.
func (e Entry) ref() string {
	s := e.Server + "/" + e.Path
	if e.Tag != "" {
		s += ":" + e.Tag
	}
	if e.Digest != "" {
		s += "@" + e.Digest
	}
	return s
}

func diffEntry(i Image) Entry {
	return Entry{Key: i.Key(), Server: i.Server, Path: i.Path, Tag: i.Tag, Digest: i.Digest}
}

func byKey(images []Image) map[string]Image {
	m := make(map[string]Image, len(images))
	for _, im := range images {
		m[im.Key()] = im
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
