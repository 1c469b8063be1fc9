// Package oci talks to registries: it answers their authentication challenges (a token per
// repository), resolves and fetches manifests as their exact bytes, streams verified blobs,
// lists tags and referrers, and through a Session checks, mounts and uploads blobs (in one
// request or in chunks) and pushes manifests; it tells a transient failure from a refusal
// (Transient, Broken, StatusError) and what a failure comes down to (Cause). Pulls of a
// registry with a mirror (WithMirror: a pull-through cache) go to the mirror, under the names
// given. A Budget shared by a transfer's requests and its caller's retries bounds them
// together. What a registry sends is read up to our own caps (limits.go), a request that
// stalls MaxStalls times is given up (Stalled), and no token is asked of a realm on a
// link-local address (ErrRealm).
//
// Every request to a registry is made by a Session, through the Client's one transport
// (transport.go). A Client sets no limit on concurrent requests: the operation that uses it
// runs one pool of its own size. Messages name registries, repositories, digests and files,
// never the command line's flags: the typed errors (errors.go) let the caller say which flag
// would help.
//
// It is the only product package that imports go-containerregistry, and of it only name
// (reference parsing) and authn (the Docker config and its credential helpers); it imports
// manifest, imageref and verify, and knows nothing of the bundle file, image lists or charts.
package oci
