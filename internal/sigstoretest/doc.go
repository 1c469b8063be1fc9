// Package sigstoretest is a Sigstore for tests and fixtures: a Fulcio-like certificate
// authority (a root and an intermediate), a Rekor-like log key, and signing in the two forms
// cosign attaches to images: the simple signing payload of a `sha256-<hex>.sig` manifest with
// its certificate, chain and Rekor bundle annotations (cosign 2), and a Sigstore bundle v0.3
// holding a DSSE envelope of an in-toto statement (cosign 3, an OCI 1.1 referrer). Its
// trusted_root.json is what a verifier trusts instead of the public-good instance.
//
// It runs in-process and offline. Certificates name their identity as a URI (a GitHub Actions
// workflow, as Fulcio writes it) or an e-mail address, and carry the OIDC issuer extension;
// signing times, certificate lifetimes and the Rekor entries are chosen by the caller, so that
// tests can make expired certificates, entries for another payload, and tampered bundles.
//
// It builds on sigstore-go's protobuf types and rekor's checkpoint signer; it is not used by
// the bundle or unbundle programs.
package sigstoretest
