// Package version holds the version stamped into the binaries at build time.
package version

// Version is set by the Makefile with -ldflags "-X .../internal/version.Version=...".
var Version = "dev"
