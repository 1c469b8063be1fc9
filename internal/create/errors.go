package create

import "errors"

var (
	// ErrNothing is wrapped when bundle create could pull no image at all.
	ErrNothing = errors.New("nothing to bundle")
)
