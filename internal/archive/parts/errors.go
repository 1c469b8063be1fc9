package parts

import "errors"

// ErrCorrupt is wrapped by every error about a bundle whose files are wrong: a part missing,
// short or damaged, a checksum file that cannot be read. Package archive's ErrCorrupt is this
// same error, so that errors.Is answers alike whichever room found the fault.
var ErrCorrupt = errors.New("bundle is corrupt")

// errStopped is returned by WriteParity when its caller, the bundle writer, stopped it (it was
// closed).
var errStopped = errors.New("bundle writer closed")
