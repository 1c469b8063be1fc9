// Package serve is a read-only OCI distribution API served straight from bundles: the
// images, their referrers and a chart bundle's chart, read at random from the compressed
// files through their offset tables, never extracted (unbundle serve). It serves the API root,
// manifests by tag and by digest, blobs (with Range), tags lists, the catalog and the
// referrers API, with optional htpasswd authentication; every write is refused.
//
// Every byte is verified: manifests when the bundles are opened (they are then served from
// memory), a blob whole before any of it is first served, and again while it streams, its
// last bytes held back until its digest matched. A blob that does not verify is a 500 naming
// it in the log, never wrong bytes. Several bundles are served as one registry (a full bundle
// and its deltas: a delta's external layers are read from the bundle that carries them).
//
// It takes little from clients: timeouts on requests and on every write of an answer
// (Serve), at most 8 ranges a request, the same bcrypt work for unknown users, and failed
// logins limited per address (failures.go).
//
// The package reads the bundles' images, their manifests and referrers through internal/graph
// (the graph unbundle push reads), blobs through internal/archive, and the identity of the
// bundles' files through internal/archive/trust (SetOf); it knows nothing of registry clients.
package serve
