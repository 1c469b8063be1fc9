package delta

import "errors"

// ErrBadInventory is wrapped when an inventory file is not one this version reads.
var ErrBadInventory = errors.New("not a valid inventory file")

// BaseError is a base that LoadBase cannot read: the bundle does not open, the inventory is
// missing or not valid, the file cannot be hashed. The command line names the flag it came
// from; its text is Err's, which names the file.
type BaseError struct {
	Path string // as given
	Err  error
}

func (e *BaseError) Error() string { return e.Err.Error() }

func (e *BaseError) Unwrap() error { return e.Err }
