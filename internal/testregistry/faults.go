package testregistry

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// FaultKind names a failure that Faults draws at random. FaultReset, FaultStall and
// FaultTruncate act on a body; on a request where such a kind cannot act, FaultStatus503 is
// injected (and counted) instead. "Half" a body below means half its declared Content-Length,
// rounded down. A body fault that has not acted when the body ends, or when the registry is
// done with the request (having read less), acts then.
//
//   - FaultReset on a blob GET (GET /v2/<name>/blobs/<digest>): after half the response body is
//     sent, the connection is hijacked and closed with a TCP reset (SO_LINGER 0, also under
//     TLS), so the client reads an error mid-body. On a request with a body (an upload PATCH or
//     PUT, a manifest PUT): after the registry has read half the body (32 KiB when its length is
//     not declared), the connection is reset and the registry's next read fails; it never sees
//     the end of the body, so it completes nothing with it (no blob is stored).
//   - FaultTruncate on a blob GET: the full Content-Length stays declared, half the body is
//     sent, then the connection is closed in order: the client sees an unexpected EOF.
//   - FaultStall on a blob GET: after half the body is sent, nothing more is sent until the
//     request context ends, the registry closes, or 60 s pass. On any other request: the same
//     wait before the registry handles it. A stall that runs the full 60 s then proceeds
//     normally; one cut short ends the request with nothing more sent. (An HTTP/1 request
//     context ends when the client closes the connection, except while a request body is
//     unread: a stalled upload then waits for Close or the 60 s.)
type FaultKind string

// The kinds of fault.
const (
	FaultStatus500 FaultKind = "500"      // answer 500 Internal Server Error
	FaultStatus502 FaultKind = "502"      // answer 502 Bad Gateway
	FaultStatus503 FaultKind = "503"      // answer 503 Service Unavailable
	Fault429       FaultKind = "429"      // answer 429 Too Many Requests with "Retry-After: 1" (seconds)
	FaultReset     FaultKind = "reset"    // break the connection with a TCP reset mid-body
	FaultStall     FaultKind = "stall"    // stop sending mid-body of a blob GET, or before answering
	FaultTruncate  FaultKind = "truncate" // blob GET only: send half the declared body, then close
)

// Faults injects failures into a registry's HTTP handling (see WithFaults). Safe for concurrent
// use; its settings may be changed while the registry runs (use its methods).
//
// Every request under /v2/ except the /v2/ ping itself is eligible, and is handled in this
// order: a request naming a repository set by FailRepository fails; a manifest PUT of a media
// type set by RejectMediaType is rejected; otherwise, with the probability set by SetRate, a
// FaultKind is drawn from those set by SetKinds and injected. The draws come from one
// math/rand/v2 PCG source seeded by NewFaults, so a run is reproducible given the same order of
// eligible requests (a rate of 0 draws nothing).
type Faults struct {
	// active holds the settings while any failure is configured, nil otherwise: the fast path
	// is one atomic load. The settings it points to are never changed.
	active atomic.Pointer[faultSettings]

	mu       sync.Mutex // guards the fields below
	settings faultSettings
	rng      *rand.Rand
	injected map[FaultKind]int64
}

type faultSettings struct {
	rate     float64
	kinds    []FaultKind
	repos    map[string]int  // repository -> status
	rejected map[string]bool // manifest media types
	noRefs   bool            // reject referrers (RejectReferrers)
	uploads  *failedUploads  // FailUploads
}

// failedUploads is how FailUploads answers.
type failedUploads struct {
	status int
	body   string
}

var allFaultKinds = []FaultKind{FaultStatus500, FaultStatus502, FaultStatus503, Fault429, FaultReset, FaultStall, FaultTruncate}

// NewFaults returns Faults that inject nothing until configured, drawing from a source seeded
// with seed.
func NewFaults(seed int64) *Faults {
	return &Faults{
		settings: faultSettings{kinds: allFaultKinds},
		rng:      rand.New(rand.NewPCG(uint64(seed), 0)),
		injected: map[FaultKind]int64{},
	}
}

// SetRate sets the fraction of eligible requests, 0 to 1, that get a random fault (default 0).
// It panics on a rate outside [0, 1].
func (f *Faults) SetRate(rate float64) {
	if !(rate >= 0 && rate <= 1) {
		panic(fmt.Sprintf("testregistry: fault rate %v outside [0, 1]", rate))
	}
	f.update(func(s *faultSettings) { s.rate = rate })
}

// SetKinds sets the kinds random faults are drawn from, with equal chances (default, and with
// no arguments: all). It panics on an unknown kind.
func (f *Faults) SetKinds(kinds ...FaultKind) {
	for _, k := range kinds {
		if !slices.Contains(allFaultKinds, k) {
			panic(fmt.Sprintf("testregistry: unknown fault kind %q", k))
		}
	}
	if len(kinds) == 0 {
		kinds = allFaultKinds
	}
	kinds = slices.Clone(kinds)
	f.update(func(s *faultSettings) { s.kinds = kinds })
}

// FailRepository makes every request whose path names repository repo (/v2/<repo>/manifests/,
// /blobs/, /tags/ or /referrers/; not a repository nested under it) fail with status and a
// Distribution-style JSON error body, until cleared. Several repositories may be set; repo ""
// clears them all. It panics on a status outside 400-599.
func (f *Faults) FailRepository(repo string, status int) {
	if repo == "" {
		f.update(func(s *faultSettings) { s.repos = nil })
		return
	}
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("testregistry: failure status %d outside 400-599", status))
	}
	f.update(func(s *faultSettings) {
		s.repos = maps.Clone(s.repos)
		if s.repos == nil {
			s.repos = map[string]int{}
		}
		s.repos[repo] = status
	})
}

// RejectMediaType makes manifest PUTs whose Content-Type is mt (parameters ignored) fail with
// 400 and a Distribution-style JSON error body with code MANIFEST_INVALID, until cleared.
// Several media types may be set; mt "" clears them all.
func (f *Faults) RejectMediaType(mt string) {
	f.update(func(s *faultSettings) {
		if mt == "" {
			s.rejected = nil
			return
		}
		s.rejected = maps.Clone(s.rejected)
		if s.rejected == nil {
			s.rejected = map[string]bool{}
		}
		s.rejected[mt] = true
	})
}

// RejectReferrers makes the registry refuse referrers as registries that do not take OCI 1.1
// artifacts or cosign's tags do: a manifest PUT whose body has a subject field, or whose
// reference is a tag of the referrers tag scheme (sha256-<hex>, cosign's sha256-<hex>.sig),
// fails with 400 MANIFEST_INVALID. Other manifests pass. false undoes it.
func (f *Faults) RejectReferrers(reject bool) {
	f.update(func(s *faultSettings) { s.noRefs = reject })
}

// FailUploads makes every request that carries a blob's bytes (PATCH and PUT on
// /v2/<name>/blobs/uploads/...) fail with status and body, as a registry whose storage is full
// answers them: Distribution on a full disk answers 500 with
// {"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"... no space left on device"}]},
// a proxy in front of it may answer plain text. The request body is read first, as a registry
// reads it before its write fails. Sessions still open (POST), and blobs and manifests already
// stored are served. Status 0 clears it. The body is sent as JSON when it starts with '{',
// else as text/plain.
func (f *Faults) FailUploads(status int, body string) {
	f.update(func(s *faultSettings) {
		s.uploads = nil
		if status != 0 {
			s.uploads = &failedUploads{status: status, body: body}
		}
	})
}

// Injected returns how many faults of each kind were injected so far (a copy). It counts random
// draws only, as injected (a kind that fell back to 503 counts as FaultStatus503); answers
// caused by FailRepository and RejectMediaType are not counted.
func (f *Faults) Injected() map[FaultKind]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.injected)
}

// update changes a copy of the settings and publishes it.
func (f *Faults) update(change func(*faultSettings)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.settings
	change(&s)
	f.settings = s
	if s.rate == 0 && len(s.repos) == 0 && len(s.rejected) == 0 && !s.noRefs && s.uploads == nil {
		f.active.Store(nil)
	} else {
		f.active.Store(&s)
	}
}

// draw returns the random fault for one eligible request under settings s, "" for none, and
// counts it. A kind for which fits is false becomes FaultStatus503.
func (f *Faults) draw(s *faultSettings, fits func(FaultKind) bool) FaultKind {
	if s.rate == 0 {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.Float64() >= s.rate {
		return ""
	}
	k := s.kinds[f.rng.IntN(len(s.kinds))]
	if !fits(k) {
		k = FaultStatus503
	}
	f.injected[k]++
	return k
}
