// Package testregistry runs container registries in-process, for tests and demos.
//
// Start runs the CNCF Distribution registry (the registry:2/registry:3 code) on 127.0.0.1 with
// filesystem storage, optionally behind htpasswd basic auth and TLS signed by a fresh CA: the
// realistic choice (per-repository blob links, real upload sessions, auth, TLS). StartGGCR runs
// go-containerregistry's in-memory pkg/registry: fast, no auth, blobs global across repositories.
//
// Both count requests and blob bytes uploaded and fetched at the HTTP layer, so tests can assert
// on what crossed the wire (for example that a second push uploaded nothing). With WithFaults
// both inject failures (error statuses, 429, resets, stalls, truncated bodies, a repository
// that always fails, a rejected manifest media type), drawn reproducibly from a seed.
//
// A Registry hands out what a client needs (Host, Transport trusting its CA, Username and
// Password) and imports no registry client: tests reach it through internal/oci. Its own tests
// also check it against go-containerregistry's remote (crane's client).
package testregistry
