package testregistry

import "errors"

// ErrAuthUnsupported is returned by StartGGCR when given WithAuth: pkg/registry has no auth.
var ErrAuthUnsupported = errors.New("testregistry: the in-memory registry does not support auth")
