package digests

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Select returns the entries of l chosen by include, less those chosen by exclude, in a new List
// with the same File. A pattern is "component" (all its containers) or "component.container";
// an empty include chooses every entry.
//
// A malformed pattern is an error; so is a pattern that matches no entry of l (ErrNoMatch, the
// error naming the pattern and the known components, or the component's containers), so that a
// typo is not silently ignored. All pattern errors are reported, joined. A selection that
// leaves nothing is ErrEmptySelection. l is not modified.
func (l *List) Select(include, exclude []string) (*List, error) {
	in, inErr := l.match("include", include)
	out, outErr := l.match("exclude", exclude)
	if err := errors.Join(inErr, outErr); err != nil {
		return nil, err
	}
	sel := &List{File: l.File}
	for i, img := range l.Images {
		if (len(include) == 0 || in[i]) && !out[i] {
			sel.Images = append(sel.Images, img)
		}
	}
	if len(sel.Images) == 0 {
		return nil, fmt.Errorf("%w: include %q, exclude %q", ErrEmptySelection, include, exclude)
	}
	return sel, nil
}

// match marks the entries of l that any of patterns matches; what ("include" or "exclude")
// names the patterns in errors.
func (l *List) match(what string, patterns []string) ([]bool, error) {
	hit := make([]bool, len(l.Images))
	var errs []error
	for _, p := range patterns {
		comp, cont, byContainer := strings.Cut(p, ".")
		if comp == "" || byContainer && (cont == "" || strings.Contains(cont, ".")) {
			errs = append(errs, fmt.Errorf("%w: %s %q is not component or component.container", ErrNoMatch, what, p))
			continue
		}
		n := 0
		var containers []string // those of comp, for the error
		for i, img := range l.Images {
			if img.Component != comp {
				continue
			}
			containers = append(containers, img.Container)
			if !byContainer || img.Container == cont {
				hit[i] = true
				n++
			}
		}
		switch {
		case n > 0:
		case containers == nil:
			errs = append(errs, fmt.Errorf("%w: %s %q: no component %q (components: %s)",
				ErrNoMatch, what, p, comp, strings.Join(l.components(), ", ")))
		default:
			errs = append(errs, fmt.Errorf("%w: %s %q: no container %q in %s (containers: %s)",
				ErrNoMatch, what, p, cont, comp, strings.Join(containers, ", ")))
		}
	}
	return hit, errors.Join(errs...)
}

// components lists the component names of l, sorted, once each.
func (l *List) components() []string {
	var names []string
	for _, img := range l.Images {
		names = append(names, img.Component)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
