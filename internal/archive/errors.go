package archive

import (
	"errors"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

var (
	// ErrCorrupt is wrapped by every error about a bundle whose content or structure is wrong.
	// It is parts.ErrCorrupt: a part missing or damaged is a corrupt bundle too.
	ErrCorrupt = parts.ErrCorrupt
	// ErrUnsupported is wrapped when the bundle is of a format version this tool cannot read.
	ErrUnsupported = errors.New("unsupported bundle")
	// ErrNotFound is wrapped when a blob or entry is not in the bundle.
	ErrNotFound = errors.New("not in the bundle")
)
