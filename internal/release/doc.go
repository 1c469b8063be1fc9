// Package release makes what `make release` puts in dist/: static bundle and unbundle binaries
// for the platforms operators use, built reproducibly (-trimpath, no build id, no VCS stamp
// but the commit and date given, $SOURCE_DATE_EPOCH from the commit), an SPDX SBOM of each
// (spdx.go, from the module list Go records in the binary), SHA256SUMS in sha256sum -c
// format and, with a key, SHA256SUMS.sig: an OpenSSH signature (internal/sshsig) in namespace
// ess-airgap-release. docs/release.md says how an operator checks a release.
//
// It runs the go command; it imports nothing from the tools it builds but the signing code.
package release
