package push

import (
	"context"
	"errors"
	"sync"

	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// stopAfter is how many blobs in a row may fail with one cause, none passing in between and
// in more than one repository, before a push stops: a registry whose disk is full, or that
// went away, fails every upload alike, and the blobs still to go would only repeat it for
// minutes. One repository that fails (a quota, a policy) fails its own images only.
const stopAfter = 3

// stopper stops a push whose registry fails every upload alike. Each blob's retries are
// bounded already (oci.Budget); this bounds the run: after stopAfter blobs in a row failed with
// one cause (oci.Cause) it cancels the push's context. A blob uploaded or mounted starts the
// count again; a refusal or a damaged bundle does not count (they have their own messages).
// A nil stopper does nothing. Safe for concurrent use.
type stopper struct {
	cancel context.CancelFunc

	mu    sync.Mutex
	cause string          // the cause of the failures in a row
	n     int             // how many
	repos map[string]bool // in which repositories
	fired string          // the cause the push stopped on
}

func newStopper(cancel context.CancelFunc) *stopper { return &stopper{cancel: cancel} }

// passed records a blob that reached the registry.
func (s *stopper) passed() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cause, s.n, s.repos = "", 0, nil
}

// failed records a blob that failed for good in repository repo.
func (s *stopper) failed(err error, repo string) {
	if s == nil || errors.Is(err, context.Canceled) || mirror.Damaged(err) || mirror.Refused(err) {
		return
	}
	cause := oci.Cause(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fired != "" {
		return
	}
	if cause == s.cause {
		s.n++
	} else {
		s.cause, s.n, s.repos = cause, 1, map[string]bool{}
	}
	s.repos[repo] = true
	if s.n >= stopAfter && len(s.repos) > 1 {
		s.fired = cause
		s.cancel()
	}
}

// stopped returns the cause the push stopped on, or "".
func (s *stopper) stopped() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}
