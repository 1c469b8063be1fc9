package report

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// documents are every document type of the package, as new values.
var documents = map[string]func() any{
	"Create": func() any { return new(Create) }, "Push": func() any { return new(Push) }, "Verify": func() any { return new(Verify) },
	"List": func() any { return new(List) }, "Diff": func() any { return new(Diff) }, "Inventory": func() any { return new(Inventory) },
	"Check": func() any { return new(Check) }, "CheckValues": func() any { return new(CheckValues) },
	"Version": func() any { return new(Version) }, "Event": func() any { return new(Event) },
}

// fill sets every field below v to a value of its own (strings, numbers and times distinct,
// bools true, two items in every list, every pointer set), so that a field lost or swapped on
// the way through JSON shows.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Bool:
		v.SetBool(true)
	default:
		panic("fill: a field of kind " + v.Kind().String())
	}
}

// TestRoundTrip: every document, every field set, goes to JSON and back through Decode
// unchanged: no two fields share a key (encoding/json drops both), no field is lost.
func TestRoundTrip(t *testing.T) {
	for name, mk := range documents {
		t.Run(name, func(t *testing.T) {
			v := mk()
			n := 0
			fill(reflect.ValueOf(v).Elem(), &n)
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back := mk()
			if err := Decode(data, back); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(v, back) {
				t.Errorf("changed on the way through JSON:\n%+v\n%+v", v, back)
			}
		})
	}
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// keys walks a decoded JSON value and calls fn with the path of every object key.
func keys(raw any, at string, fn func(path, key string)) {
	switch x := raw.(type) {
	case map[string]any:
		for k, v := range x {
			fn(at, k)
			keys(v, at+"."+k, fn)
		}
	case []any:
		for _, v := range x {
			keys(v, at+"[]", fn)
		}
	}
}

// TestKeys: every key of every document is snake_case; every document but the version's and
// the log events has schema_version and command; version has schema_version and program; a
// log event has time, level, event and program.
func TestKeys(t *testing.T) {
	for name, mk := range documents {
		v := mk()
		n := 0
		fill(reflect.ValueOf(v).Elem(), &n)
		data, _ := json.Marshal(v)
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		keys(raw, "", func(path, key string) {
			if !snake.MatchString(key) {
				t.Errorf("%s: key %s%s is not snake_case", name, path, "."+key)
			}
		})
		var want []string
		switch name {
		case "Event":
			want = []string{"time", "level", "event", "program"}
		case "Version":
			want = []string{"schema_version", "program", "version"}
		default:
			want = []string{"schema_version", "command"}
		}
		for _, k := range want {
			if _, ok := raw[k]; !ok {
				t.Errorf("%s has no %s", name, k)
			}
		}
	}
}

// TestDecodePaths: Decode's errors name where in the document the key is missing or null.
func TestDecodePaths(t *testing.T) {
	push := func(edit func(map[string]any)) []byte {
		v := new(Push)
		n := 0
		fill(reflect.ValueOf(v).Elem(), &n)
		data, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(data, &m)
		edit(m)
		data, _ = json.Marshal(m)
		return data
	}
	cases := []struct {
		name string
		doc  []byte
		want string // "" for accepted
	}{
		{"whole", push(func(map[string]any) {}), ""},
		{"a time missing", push(func(m map[string]any) { delete(m, "started") }), ".started: missing"},
		{"in a list item", push(func(m map[string]any) { delete(m["failed"].([]any)[1].(map[string]any), "error") }), ".failed[1].error: missing"},
		{"in a nested object", push(func(m map[string]any) { delete(m["stats"].(map[string]any), "blobs_mounted") }), ".stats.blobs_mounted: missing"},
		{"a list null", push(func(m map[string]any) { m["images"] = nil }), ".images: null, want an array"},
		{"an inner list null", push(func(m map[string]any) { m["problems"].([]any)[0].(map[string]any)["repositories"] = nil }), ".problems[0].repositories: null, want an array"},
		{"an optional list absent", push(func(m map[string]any) { delete(m, "problems") }), ""},
		{"an optional list null", push(func(m map[string]any) { m["referrers_failed"] = nil }), ""},
		{"an optional string absent", push(func(m map[string]any) { delete(m, "configmap") }), ""},
		{"an unknown key inside", push(func(m map[string]any) { m["stats"].(map[string]any)["blobs_lost"] = 1 }), "unknown field"},
		{"a wrong type", push(func(m map[string]any) { m["ok"] = "yes" }), "cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Decode(c.doc, new(Push))
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestDecodeEmbedded: the keys of an embedded struct (Version's version.Info) are required at
// the top level; a pointer to an object may be null.
func TestDecodeEmbedded(t *testing.T) {
	v := `{"schema_version":1,"program":"bundle","version":"v1","commit":"","modified":false,"build_date":"","go_version":"go1.26","platform":"linux/amd64"}`
	var got Version
	if err := Decode([]byte(v), &got); err != nil || got.GoVersion != "go1.26" || got.Program != "bundle" {
		t.Fatalf("%v, %+v", err, got)
	}
	if err := Decode([]byte(strings.Replace(v, `"go_version":"go1.26",`, "", 1)), new(Version)); err == nil || !strings.Contains(err.Error(), ".go_version: missing") {
		t.Errorf("embedded key missing: %v", err)
	}
	l := new(List)
	n := 0
	fill(reflect.ValueOf(l).Elem(), &n)
	data, _ := json.Marshal(l)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["chart"], m["base"] = nil, nil
	data, _ = json.Marshal(m)
	if err := Decode(data, new(List)); err != nil {
		t.Errorf("a null chart and base: %v", err)
	}
	for _, bad := range []string{"", "[]", "{} {}", "null", " null\n"} {
		if err := Decode([]byte(bad), new(List)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// TestDocumentedKeys: every key of every document, optional ones included, is named in
// docs/json.md (in an example, or in the text as `key`): a key added to a type without a word
// in the documentation fails here.
func TestDocumentedKeys(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for name, mk := range documents {
		v := mk()
		n := 0
		fill(reflect.ValueOf(v).Elem(), &n)
		out, _ := json.Marshal(v)
		var raw map[string]any
		json.Unmarshal(out, &raw)
		keys(raw, "", func(path, key string) {
			if !strings.Contains(doc, `"`+key+`"`) && !strings.Contains(doc, "`"+key+"`") {
				t.Errorf("%s: key %s.%s is not in docs/json.md", name, path, key)
			}
		})
	}
}
