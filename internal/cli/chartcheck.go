package cli

import (
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/push"
)

// chartToCheck is push.ChartToCheck with the flags named: the chart is chosen with --chart
// NAME, and a bundle carries one when it was made with bundle create --chart.
func chartToCheck(m *archive.Manifest, name string) (*archive.Chart, error) {
	rec, err := push.ChartToCheck(m, name)
	switch {
	case errors.Is(err, push.ErrNoChart):
		return nil, fmt.Errorf("%w (it was made without --chart)", err)
	case errors.Is(err, push.ErrWhichChart):
		return nil, fmt.Errorf("%w with --chart NAME", err)
	}
	return rec, err
}
