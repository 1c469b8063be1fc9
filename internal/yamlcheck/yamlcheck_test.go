package yamlcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// bomb is a document of levels anchors, each a list of width aliases of the one before:
// width^levels nodes once expanded, a few hundred bytes as written.
func bomb(levels, width int) []byte {
	var b strings.Builder
	b.WriteString(`l0: &l0 ["lol"]` + "\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), width), ",")
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, refs)
	}
	return []byte(b.String())
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  []byte
		ok   bool
	}{
		{"no alias", []byte("a: 1\nb: [1, 2, 3]\n"), true},
		{"an anchor used a few times", []byte("r: &r {cpu: 1, memory: 2Gi}\na: {resources: *r}\nb: {resources: *r}\nc: {resources: *r}\n"), true},
		{"8 levels of 9 (the issue's values.yaml)", bomb(8, 9), false},
		{"60 levels of 2 (2^60 nodes: sized once each)", bomb(60, 2), false},
		{"just over the budget", bomb(1, MaxAliasNodes+1), false},
		{"just under", bomb(1, MaxAliasNodes/2-1), true}, // each alias reaches the list and its scalar
		{"an alias inside its anchor", []byte("a: &x [1, *x]\n"), false},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal(tc.doc, &doc); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err := Check(&doc)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrAliases)) {
			t.Errorf("%s (%d bytes): %v, want ok=%v", tc.name, len(tc.doc), err, tc.ok)
		}
	}
}

// TestUnmarshalDecode: Unmarshal and Decode decode as yaml.v3 does, after Check.
func TestUnmarshalDecode(t *testing.T) {
	var m map[string]any
	if err := Unmarshal([]byte("r: &r {cpu: 1}\na: *r\n"), &m); err != nil || m["a"].(map[string]any)["cpu"] != 1 {
		t.Fatalf("%v %v", m, err)
	}
	if err := Unmarshal(bomb(8, 9), &m); !errors.Is(err, ErrAliases) {
		t.Fatalf("bomb: %v", err)
	}
	var n yaml.Node
	if err := Unmarshal([]byte(""), &n); err != nil || len(n.Content) != 0 {
		t.Fatalf("empty: %v %v", n, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(append([]byte("a: 1\n---\n"), bomb(8, 9)...)))
	var first, second map[string]any
	if err := Decode(dec, &first); err != nil || first["a"] != 1 {
		t.Fatalf("first: %v %v", first, err)
	}
	if err := Decode(dec, &second); !errors.Is(err, ErrAliases) {
		t.Fatalf("second: %v", err)
	}
	if err := Decode(dec, &second); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestBudgetCountsAliasesOnly: a large document without aliases passes whatever its size
// (the budget is on what aliases add); aliases of aliases count what they reach in all.
func TestBudgetCountsAliasesOnly(t *testing.T) {
	big := "list: [" + strings.TrimSuffix(strings.Repeat("x, ", 3*MaxAliasNodes), ", ") + "]\n"
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(big), &doc); err != nil {
		t.Fatal(err)
	}
	if err := Check(&doc); err != nil {
		t.Errorf("%d plain nodes: %v", 3*MaxAliasNodes, err)
	}
	// l1 is 100 aliases of a 2-node list (200 nodes reached); l2 names l1 60 times: 12,000.
	nested := "l0: &l0 [a]\nl1: &l1 [" + strings.TrimSuffix(strings.Repeat("*l0, ", 100), ", ") + "]\n" +
		"l2: [" + strings.TrimSuffix(strings.Repeat("*l1, ", 60), ", ") + "]\n"
	if err := Unmarshal([]byte(nested), &map[string]any{}); !errors.Is(err, ErrAliases) {
		t.Errorf("aliases of aliases: %v", err)
	}
	if err := Check(nil); err != nil {
		t.Errorf("Check(nil): %v", err)
	}
}

// TestUnmarshalEdges: an empty document leaves the value as it was; a syntax error is YAML's
// own, not ErrAliases; a merge key through an alias decodes.
func TestUnmarshalEdges(t *testing.T) {
	m := map[string]any{"kept": true}
	if err := Unmarshal([]byte("# nothing\n"), &m); err != nil || m["kept"] != true {
		t.Errorf("empty document: %v, %v", m, err)
	}
	if err := Unmarshal([]byte("a: [\n"), &m); err == nil || errors.Is(err, ErrAliases) {
		t.Errorf("syntax error: %v", err)
	}
	var merged struct {
		B struct{ X, Y int } `yaml:"b"`
	}
	if err := Unmarshal([]byte("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n"), &merged); err != nil || merged.B.X != 1 || merged.B.Y != 2 {
		t.Errorf("merge key: %+v, %v", merged, err)
	}
}
