// Package provenance checks who signed the images of a bundle, against a policy, with the
// Sigstore verification of github.com/sigstore/sigstore-go: certificate chains to the Fulcio
// roots of a trusted root (trusted_root.json), Rekor entries (signed entry timestamps or
// inclusion proofs) against its Rekor keys, the signing time within the certificate's
// validity, the identity and OIDC issuer the policy names, and the signed payload naming the
// image's digest. Keyed signatures (cosign's --key) are checked against the policy's keys.
//
// It reads both forms cosign attaches to an image: the layers of a `sha256-<hex>.sig`
// manifest (a simple signing payload, with the signature, certificate, chain and Rekor bundle
// in annotations: cosign 2), which it turns into a sigstore-go signed entity, and Sigstore
// bundles (application/vnd.dev.sigstore.bundle.v0.3+json) of OCI 1.1 referrers (cosign 3).
//
// Nothing here touches the network or a bundle file: callers hand in the signatures they
// found (a registry at bundle create, the bundle on the bastion) and the trusted root, so the
// same check runs online when the bundle is made and offline where it is pushed. The policy
// file is YAML (policy.go); the trusted root comes from a file or, on the connected side,
// from the Sigstore TUF repository (trust.go).
//
// Imports: sigstore-go, its protobuf types and sigstore's signature package, go.yaml.in/yaml/v3.
// Nothing of this module.
package provenance
