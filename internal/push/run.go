package push

import (
	"context"
	"errors"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// MissingError is returned by Run when every image the bundle carries was pushed but the bundle
// lacks some containers (archive.Manifest.Missing) and AllowPartial was not given: no ConfigMap
// or Helm values are written. It wraps mirror.ErrPartial; the command names the flag that
// allows it.
type MissingError struct{ Missing []archive.Missing }

func (e *MissingError) Error() string {
	return "the bundle lacks some containers: no ConfigMap or Helm values written"
}

func (e *MissingError) Unwrap() error { return mirror.ErrPartial }

// Steps are what follows a push whose images are all in, given by the command (they write the
// files it names and say so); Run says which run and in which order. Each may be nil.
type Steps struct {
	// ConfigMap writes the ConfigMap of the containers the registry serves (the bundle's charts'
	// blocks left out) and returns the file written, "" for standard output.
	ConfigMap func(images []digests.Image) (file string, err error)
	// ChartOnly is called instead when the bundle has no container but charts' blocks.
	ChartOnly func()
	// Charts, when set, are the bundle's charts whose Helm values are written (ChartValues, with
	// every image the registry serves), each then checked (CheckChart): a failed check does not
	// stop the other charts' values, and the first is returned.
	Charts      []*archive.Chart
	ChartValues func(rec *archive.Chart, images []digests.Image) (file string, err error)
	CheckChart  func(rec *archive.Chart) error
	// HelmValues, when set and Charts is not, writes the Helm values of the containers.
	HelmValues func(images []digests.Image) (file string, err error)
}

// RunOptions is one unbundle push: the bundle (open; the caller closes it), the client, where
// to, and what follows.
type RunOptions struct {
	PushOptions
	Bundle *archive.Bundle
	Client *oci.Client
	// AllowPartial lets a bundle that lacks some containers have its ConfigMap and Helm values
	// written without them.
	AllowPartial bool
	// Show runs the push with the command's progress shown; nil runs it without.
	Show func(push func(p mirror.Progress) error) error
	// Told is called once the push is done, before any step, to tell what it did.
	Told  func(res *Pushed, err error)
	Steps Steps
}

// Result is what Run did: the push (nil when it could not start), and the files written.
type Result struct {
	*Pushed
	ConfigMap  string // "" when none was written to a file
	HelmValues string // the Helm values files written, comma-separated
	// ReferrersOnly is true when the images were pushed and only some of their referrers
	// failed: the steps ran, and the error wraps ErrReferrers.
	ReferrersOnly bool
}

// Run pushes the bundle (Push), tells what it did, and once every image is in writes the
// ConfigMap, the Helm values and runs the render checks (Steps). It stops before the steps when
// the preflight found problems (Pushed.Problems), when images failed (the error wraps
// mirror.ErrPartial, ErrRefused, ErrStopped or archive.ErrCorrupt by cause), or when the bundle
// lacks containers without AllowPartial (*MissingError). When only referrers failed, the steps
// run and the error wraps ErrReferrers.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	show := o.Show
	if show == nil {
		show = func(push func(p mirror.Progress) error) error { return push(nil) }
	}
	res := &Result{}
	err := show(func(p mirror.Progress) error {
		o.Progress = p
		var err error
		res.Pushed, err = Push(ctx, o.Client, o.Bundle, o.PushOptions)
		return err
	})
	if o.Told != nil {
		o.Told(res.Pushed, err)
	}
	if res.Pushed == nil || len(res.Problems) > 0 {
		return res, err
	}
	var refErr error // only referrers failed: the images and the ConfigMap are good
	if errors.Is(err, ErrReferrers) && len(res.Failed) == 0 {
		refErr, err, res.ReferrersOnly = err, nil, true
	}
	if err != nil {
		return res, err
	}
	m := o.Bundle.Manifest()
	if len(m.Missing) > 0 && !o.AllowPartial {
		return res, &MissingError{Missing: m.Missing}
	}
	if err := res.steps(o.Steps, m); err != nil {
		return res, err
	}
	return res, refErr
}

// steps writes the ConfigMap and the Helm values, and runs the render checks.
func (res *Result) steps(s Steps, m *archive.Manifest) error {
	listed := containersOf(m, res.Images)
	var err error
	switch {
	case len(listed) > 0 || len(res.Images) == 0:
		if s.ConfigMap != nil {
			if res.ConfigMap, err = s.ConfigMap(listed); err != nil {
				return err
			}
		}
	case s.ChartOnly != nil:
		s.ChartOnly()
	}
	switch {
	case len(s.Charts) > 0:
		var checkErr error
		var files []string
		for _, rec := range s.Charts {
			file, err := s.ChartValues(rec, res.Images)
			if err != nil {
				return err
			}
			files = append(files, file)
			res.HelmValues = strings.Join(files, ",")
			if err := s.CheckChart(rec); err != nil && checkErr == nil {
				checkErr = err // the other charts' values are written all the same
			}
		}
		return checkErr
	case s.HelmValues != nil:
		file, err := s.HelmValues(listed)
		if err != nil {
			return err
		}
		res.HelmValues = file
	}
	return nil
}

// containersOf are the images pushed that are the bundle's containers (archive.Image.IsContainer),
// not its charts or their blocks.
func containersOf(m *archive.Manifest, pushed []digests.Image) []digests.Image {
	keep := map[string]bool{}
	for _, im := range m.Images {
		if im.IsContainer() {
			keep[im.Key()] = true
		}
	}
	var listed []digests.Image
	for _, im := range pushed {
		if keep[im.Key()] {
			listed = append(listed, im)
		}
	}
	return listed
}
