package create

import (
	"context"
	"io"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/delta"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
)

// ChartSource is a chart to carry as the operator named it: its reference (LoadChart) and its
// values files, applied in order.
type ChartSource struct {
	Ref    string
	Values []chart.ValuesFile
}

// RunOptions is one bundle create: what Create takes, and what Run opens for it first.
type RunOptions struct {
	CreateOptions
	// Since, when set, makes a delta against an earlier bundle or an inventory.json
	// (delta.LoadBase); Open opens an earlier bundle (the caller's trusted open). Base and Have
	// are set from it.
	Since string
	Open  func(path string) (*archive.Bundle, error)
	// Client makes the registry client (required). local, when not nil, is what is at hand without asking a
	// registry (the earlier bundle's and the unfinished run's manifests, indexes and configs), to
	// be given to it with oci.WithLocal.
	Client func(local oci.Local) (*oci.Client, error)
	// ChartSources are loaded (LoadChart) with the client, in order, after Charts.
	ChartSources []ChartSource
	// Show runs the pull with the command's progress shown; nil runs it without.
	Show func(pull func(p mirror.Progress) error) error
}

// Result is what Run did: Create's result (nil when the run stopped before the pull), the
// charts loaded, and the bundle's files once one was written.
type Result struct {
	*Created
	Charts  []*Chart
	Set     *trust.Set // nil unless a bundle was written
	Started time.Time  // when the pull started
}

// Run is bundle create from the options: it opens the base of a delta and the unfinished
// bundle a stopped run left (both closed when it returns), makes the registry client, loads
// the charts, pulls (Create) with the progress shown, and finds the bundle written. With
// Provenance set, the images' signatures are carried (Referrers) to be checked again on the
// far side. The error is Create's (wrapping mirror.ErrPartial, ErrNothing...), or what
// stopped the run before; a chart reference that is not oci://HOST/PATH/NAME:VERSION wraps
// mirror.ErrChartRef.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	local, closer, err := o.openLocal()
	if err != nil {
		return nil, err
	}
	defer closer()
	c, err := o.Client(local)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, src := range o.ChartSources {
		ch, err := LoadChart(ctx, c, src.Ref, src.Values)
		if err != nil {
			return nil, err
		}
		o.Charts = append(o.Charts, ch)
	}
	res.Charts = o.Charts
	o.carrySignatures()
	show := o.Show
	if show == nil {
		show = func(pull func(p mirror.Progress) error) error { return pull(nil) }
	}
	res.Started = time.Now()
	err = show(func(p mirror.Progress) error {
		o.Progress = p
		var err error
		res.Created, err = Create(ctx, c, o.CreateOptions)
		return err
	})
	if res.Created != nil && res.SHA256 != "" {
		set, ferr := trust.Find(ctx, trust.Trust{}, o.Output)
		if ferr != nil {
			return res, ferr
		}
		res.Set = set
	}
	return res, err
}

// openLocal opens what serves the resolution without a request: the earlier bundle of a delta
// (setting Base and Have) and the unfinished bundle a stopped run left. The closer closes both.
func (o *RunOptions) openLocal() (oci.Local, func(), error) {
	var locals Locals
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	if o.Since != "" {
		base, have, earlier, err := delta.LoadBase(o.Since, o.Open)
		if err != nil {
			return nil, nil, err
		}
		o.Base, o.Have = base, have
		if earlier != nil { // its manifests and configs need not be fetched again
			closers = append(closers, earlier)
			locals = append(locals, earlier)
		}
	}
	if l, closer, ok := UnfinishedLocal(o.Output); ok { // a rerun: nor those a stopped run wrote
		closers = append(closers, closer)
		locals = append(locals, l)
	}
	if len(locals) == 0 {
		return nil, closeAll, nil
	}
	return locals, closeAll, nil
}

// carrySignatures makes a run that checks provenance carry the images' signatures, so that
// the far side can check them again: all referrers when none were asked for, else the
// signature types beside the types asked for.
func (o *RunOptions) carrySignatures() {
	if o.Provenance != nil && (!o.Referrers || len(o.ReferrerTypes) > 0) {
		o.ReferrerTypes = append(o.ReferrerTypes, provenance.SignatureTypes()...)
	}
	o.Referrers = o.Referrers || o.Provenance != nil
}
