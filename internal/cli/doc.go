// Package cli holds the bundle and unbundle commands. main packages stay tiny: they call Main,
// which runs a command in-process with the given streams (so tests run commands the same way)
// and maps its error to a documented exit code.
package cli
