package report

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocExamples: every example of docs/json.md decodes strictly (no key unknown, no required
// key missing) as the type it is marked with, and every document type has an example.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]func() any{
		"Create": func() any { return new(Create) }, "Push": func() any { return new(Push) }, "Verify": func() any { return new(Verify) },
		"List": func() any { return new(List) }, "Diff": func() any { return new(Diff) }, "Inventory": func() any { return new(Inventory) },
		"Check": func() any { return new(Check) }, "CheckValues": func() any { return new(CheckValues) },
		"Version": func() any { return new(Version) }, "Event": func() any { return new(Event) },
	}
	re := regexp.MustCompile("(?s)<!-- example: (\\w+) -->\n```(json|jsonl)\n(.*?)\n```")
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		name, kind, body := m[1], m[2], m[3]
		mk, ok := types[name]
		if !ok {
			t.Errorf("example of unknown type %s", name)
			continue
		}
		seen[name] = true
		docs := []string{body}
		if kind == "jsonl" {
			docs = strings.Split(body, "\n")
		}
		for _, d := range docs {
			v := mk()
			if err := Decode([]byte(d), v); err != nil {
				t.Errorf("example %s: %v\n%s", name, err, d)
			}
		}
	}
	for name := range types {
		if !seen[name] {
			t.Errorf("docs/json.md has no example of %s", name)
		}
	}
}

// TestDecodeStrict: Decode refuses an unknown key, a missing required key (at any depth), a
// null where a list is required, and trailing data; it takes absent optional keys.
func TestDecodeStrict(t *testing.T) {
	good := `{"schema_version":1,"command":"check","registry":"r","ok":true,"notes":[],"problems":[{"cause":"c","fix":"f","repositories":[]}]}`
	var c Check
	if err := Decode([]byte(good), &c); err != nil || !c.OK || c.Problems[0].Fix != "f" {
		t.Fatalf("good document: %v %+v", err, c)
	}
	for name, doc := range map[string]string{
		"unknown key":   strings.Replace(good, `"ok":true`, `"ok":true,"extra":1`, 1),
		"missing key":   strings.Replace(good, `"registry":"r",`, "", 1),
		"missing inner": strings.Replace(good, `"fix":"f",`, "", 1),
		"null list":     strings.Replace(good, `"notes":[]`, `"notes":null`, 1),
		"trailing":      good + ` {}`,
		"camelCase":     strings.Replace(good, `"schema_version"`, `"schemaVersion"`, 1),
	} {
		if err := Decode([]byte(doc), new(Check)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var v Verify // optional keys absent
	if err := Decode([]byte(`{"schema_version":1,"command":"verify","bundle":"b","started":"2026-01-01T00:00:00Z","finished":"2026-01-01T00:00:00Z","ok":true,"bad":[]}`), &v); err != nil {
		t.Errorf("optional keys absent: %v", err)
	}
}
