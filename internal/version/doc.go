// Package version says what build of the tools is running: the version, commit and build date
// stamped by the Makefile (-ldflags -X), else what the Go toolchain recorded in the binary
// (runtime/debug.ReadBuildInfo: the module version of `go install ...@vX`, and the VCS
// revision and commit time of a build in a git checkout).
package version
