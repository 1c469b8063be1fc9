package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Decode decodes one JSON document into v (a pointer to one of this package's types) strictly:
// a key v does not have, a key v requires (a field without omitempty) that is absent, or data
// after the document is an error, as is a document that is null. Tests use it to hold the
// commands' output to these shapes.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON document")
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		return fmt.Errorf("null, want a JSON object")
	}
	return required(reflect.TypeOf(v).Elem(), raw, "")
}

// required checks that raw has every key t requires, recursively.
func required(t reflect.Type, raw any, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		list, _ := raw.([]any)
		for i, el := range list {
			if err := required(t.Elem(), el, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if t.PkgPath() == "time" {
			return nil
		}
		obj, ok := raw.(map[string]any)
		if !ok {
			if raw == nil {
				return nil // null where an object may be (an omitted pointer)
			}
			return fmt.Errorf("%s: want an object", at)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				if err := required(f.Type, raw, at); err != nil {
					return err
				}
				continue
			}
			if name == "-" || !f.IsExported() {
				continue
			}
			val, present := obj[name]
			if !present {
				if !strings.Contains(opts, "omitempty") {
					return fmt.Errorf("%s.%s: missing", at, name)
				}
				continue
			}
			if val == nil && f.Type.Kind() == reflect.Slice && !strings.Contains(opts, "omitempty") {
				return fmt.Errorf("%s.%s: null, want an array ([] when empty)", at, name)
			}
			if err := required(f.Type, val, at+"."+name); err != nil {
				return err
			}
		}
	}
	return nil
}
