package chart

import "errors"

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
)
