package chart

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrInvalidChart: the chart archive or directory is not a chart this tool can read.
	ErrInvalidChart = errors.New("invalid Helm chart")
	// ErrInvalidValues: a values file does not parse, or an image block is unusable.
	ErrInvalidValues = errors.New("invalid Helm values")
	// ErrNoImages: the chart's values name no image block.
	ErrNoImages = errors.New("no image blocks in the chart's values")
	// ErrRender: the helm binary could not render the chart, or its output is not YAML.
	ErrRender = errors.New("helm template failed")
	// ErrNoHelm: the helm binary to render with is not there (the caller says how to name
	// another). It also matches ErrRender.
	ErrNoHelm = fmt.Errorf("%w: no helm binary", ErrRender)
	// ErrValuesRefused: helm ran, and the chart itself refused the values: a template's
	// required or fail (matrix-stack: "serverName is required"), or the chart's schema. It
	// also matches ErrRender; the error is a *RefusedError.
	ErrValuesRefused = fmt.Errorf("%w: the chart refuses the values", ErrRender)
)

// RefusedError is helm's answer when the chart refused the values (ErrValuesRefused).
type RefusedError struct {
	Helm  string   // the binary
	Asked []string // what the chart says, a line each, as helm printed it: "serverName is required"
	Msg   string   // helm's whole message
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %s", e.Helm, e.Msg)
}

func (e *RefusedError) Unwrap() error { return ErrValuesRefused }
