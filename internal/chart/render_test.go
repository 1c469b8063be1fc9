package chart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// refusing is a chart whose templates refuse values as matrix-stack's do: a required value,
// a fail of several lines, and a values schema; it prints its release, namespace and the
// Kubernetes version it renders for.
func refusing(t *testing.T) *Chart {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: refusing\nversion: 0.1.0\n",
		"values.yaml": "serverName: \"\"\nbad: false\nport: 8008\n",
		"values.schema.json": `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
			"properties": {"port": {"type": "integer"}, "serverName": {"type": "string"}}}`,
		"templates/cm.yaml": `{{- $name := required "serverName is required" .Values.serverName -}}
{{- if .Values.bad }}{{ fail "bad is set:\nunset it\nand try again" }}{{ end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  namespace: {{ .Release.Namespace }}
data:
  server: {{ $name | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
`,
	})
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRenderOptions: the release name defaults to ess; namespace and Kubernetes version are
// passed to helm; values files apply in order; the temporary files are gone afterwards.
func TestRenderOptions(t *testing.T) {
	c := refusing(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	helm := helmBinary(t)
	out, err := Render(context.Background(), c.Archive, RenderOptions{Helm: helm, Values: []ValuesFile{
		{Name: "a.yaml", Data: []byte("serverName: first.example\n")},
		{Name: "b.yaml", Data: []byte("serverName: second.example\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: ess-cm", `server: "second.example"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("default render does not say %q:\n%s", want, out)
		}
	}
	out, err = Render(context.Background(), c.Archive, RenderOptions{Helm: helm, Release: "prod", Namespace: "matrix", KubeVersion: "v1.29.3",
		Values: []ValuesFile{{Name: "a.yaml", Data: []byte("serverName: x\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: prod-cm", "namespace: matrix", `kube: "v1.29.3"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("render with options does not say %q:\n%s", want, out)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil || len(left) != 0 {
		t.Errorf("left in TMPDIR: %v (%v)", left, err)
	}
}

// TestRenderRefused: the chart's own refusals come back as a *RefusedError (ErrValuesRefused,
// ErrRender) saying what the chart asks, with the values files named as given.
func TestRenderRefused(t *testing.T) {
	c := refusing(t)
	helm := helmBinary(t)
	cases := []struct {
		name   string
		values string
		asked  []string
	}{
		{"required", "bad: false\n", []string{"serverName is required"}},
		{"fail of several lines", "serverName: x\nbad: true\n", []string{"bad is set:", "unset it", "and try again"}},
		{"schema", "serverName: x\nport: eighty\n", nil}, // the schema's words are helm's: checked below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(context.Background(), c.Archive, RenderOptions{Helm: helm, Values: []ValuesFile{{Name: "mine.yaml", Data: []byte(tc.values)}}})
			var refused *RefusedError
			if !errors.As(err, &refused) || !errors.Is(err, ErrValuesRefused) || !errors.Is(err, ErrRender) {
				t.Fatalf("got %v, want a *RefusedError", err)
			}
			if refused.Helm != helm || refused.Error() != helm+": "+refused.Msg {
				t.Errorf("helm %q, message %q", refused.Helm, refused.Error())
			}
			if tc.asked != nil && !slices.Equal(refused.Asked, tc.asked) {
				t.Errorf("asked %q, want %q", refused.Asked, tc.asked)
			}
			if tc.asked == nil && (len(refused.Asked) == 0 || !strings.Contains(strings.Join(refused.Asked, " "), "port")) {
				t.Errorf("the schema's complaint does not name port: %q", refused.Asked)
			}
		})
	}
	// A values file helm cannot read is not the chart's refusal, and is named as given.
	_, err := Render(context.Background(), c.Archive, RenderOptions{Helm: helm, Values: []ValuesFile{{Name: "broken.yaml", Data: []byte("a: [\n")}}})
	var refused *RefusedError
	if !errors.Is(err, ErrRender) || errors.As(err, &refused) || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("broken values: %v", err)
	}
	// A cancelled render is not a refusal either.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Render(ctx, c.Archive, RenderOptions{Helm: helm, Values: []ValuesFile{{Name: "v.yaml", Data: []byte("bad: false\n")}}})
	if !errors.Is(err, ErrRender) || errors.As(err, &refused) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestChartRefusalLines: how helm's message is read: the text after an execution error's
// position, every line of a fail's message, the schema's items, at most 8 lines and a count.
func TestChartRefusalLines(t *testing.T) {
	var many []string
	for i := 1; i <= 11; i++ {
		many = append(many, fmt.Sprintf("- field%d: missing", i))
	}
	cases := []struct {
		msg  string
		want []string
	}{
		{"Error: execution error at (c/templates/a.yaml:1:2): first\nsecond line\n\nhelm.go:86: [debug] stack",
			[]string{"first", "second line"}},
		{"Error: execution error at (c/templates/a.yaml:1:3): serverName is required\n\nUse --debug flag to render out invalid YAML\n",
			[]string{"serverName is required"}}, // helm template's output, word for word
		{"Error: INSTALLATION FAILED: execution error at (c/templates/a.yaml:1:2): x is required",
			[]string{"x is required"}},
		{"Error: values don't meet the specifications of the schema(s) in the following chart(s):\nc:\n" + strings.Join(many, "\n"),
			[]string{"field1: missing", "field2: missing", "field3: missing", "field4: missing", "field5: missing",
				"field6: missing", "field7: missing", "field8: missing", "and 3 more"}},
		{"Error: execution error at (c/templates/a.yaml:1:2): \nError: something else", nil},
		{"", nil},
		{"Error: template: c/templates/a.yaml:3:4: executing \"x\" at <.Values.a.b>: nil pointer evaluating interface {}.b", nil},
	}
	for _, c := range cases {
		got, ok := chartRefusal(c.msg)
		if ok != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("chartRefusal(%q) = %q, %v; want %q", c.msg, got, ok, c.want)
		}
	}
}

// TestUses: containers are found in any object, at any depth, under the three container keys
// only; an item without an image is not a container; the list is sorted.
func TestUses(t *testing.T) {
	manifests := `---
# an empty document first, as helm prints them
---
apiVersion: example.org/v1
kind: Widget
metadata: {name: w}
spec:
  deep:
    template:
      spec:
        containers: [{name: c, image: b:1}]
        sidecars: [{name: s, image: not-a-container:1}]
---
kind: Pod
metadata: {name: p}
spec:
  ephemeralContainers: [{name: debug, image: a:1}]
  initContainers: [{name: noimage}]
  containers: [{name: z, image: b:1}, {name: y, image: b:1}]
---
kind: List
items:
  - kind: Pod
    metadata: {name: q}
    spec: {containers: [{name: c, image: c:1}]}
`
	uses, err := Uses([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.Image+" "+u.String())
	}
	want := []string{
		"a:1 Pod/p ephemeralContainer debug",
		"b:1 Pod/p container y",
		"b:1 Pod/p container z",
		"b:1 Widget/w container c",
		"c:1 List/ container c", // a List's items are walked; the object named is the List
	}
	if !slices.Equal(got, want) {
		t.Errorf("uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if uses, err := Uses(nil); err != nil || len(uses) != 0 {
		t.Errorf("no manifests: %v, %v", uses, err)
	}
	for _, bad := range []string{"kind: [\n", "- a\n- b\n", "a: &a [*a]\n"} {
		if _, err := Uses([]byte(bad)); !errors.Is(err, ErrRender) {
			t.Errorf("Uses(%q): %v, want ErrRender", bad, err)
		}
	}
}
