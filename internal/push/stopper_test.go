package push

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// fullDisk is the answer of a registry whose storage is full, for an upload to repo.
func fullDisk(repo string) error {
	return fmt.Errorf("blob sha256:abc of %s: %w", repo, &oci.StatusError{What: "upload blob sha256:abc to " + repo, Code: 500,
		Reg: "UNKNOWN", Message: "no space left on device"})
}

// step is one thing a push's blob did, for the stopper.
type step struct {
	passed bool
	err    error
	repo   string
}

func fails(err error, repos ...string) []step {
	var out []step
	for _, r := range repos {
		out = append(out, step{err: err, repo: r})
	}
	return out
}

// TestStopper: stopAfter blobs in a row failing with one cause in more than one repository
// stop the push (its context is cancelled, stopped names the cause); a blob that passes
// starts the count again, as does another cause; one repository failing alone, refusals,
// a damaged bundle and cancelled transfers do not stop it.
func TestStopper(t *testing.T) {
	gateway := func(repo string) error {
		return &oci.StatusError{What: "upload blob sha256:def to " + repo, Code: 502}
	}
	refusal := func(repo string) error {
		return &oci.StatusError{What: "upload blob to " + repo, Code: 401}
	}
	join := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []step
		stop  bool
	}{
		{"three alike in two repositories", fails(fullDisk("a"), "a", "b", "a"), true},
		{"three alike, then more", join(fails(fullDisk("a"), "a", "b", "c"), fails(gateway("d"), "d", "e")), true},
		{"two alike only", fails(fullDisk("a"), "a", "b"), false},
		{"one repository fails alone", fails(fullDisk("a"), "a", "a", "a", "a", "a"), false},
		{"a blob passes in between", join(fails(fullDisk("a"), "a", "b"), []step{{passed: true}}, fails(fullDisk("a"), "a", "b")), false},
		{"causes alternate", []step{{err: fullDisk("a"), repo: "a"}, {err: gateway("b"), repo: "b"}, {err: fullDisk("c"), repo: "c"},
			{err: gateway("d"), repo: "d"}}, false},
		{"another cause starts again", join(fails(fullDisk("a"), "a", "b"), fails(gateway("c"), "c", "d", "e")), true},
		{"refusals", fails(refusal("a"), "a", "b", "c", "d"), false},
		{"a damaged bundle", fails(fmt.Errorf("read: %w", mirror.ErrFromBundle), "a", "b", "c", "d"), false},
		{"a corrupt entry", fails(fmt.Errorf("blob x: %w", archive.ErrCorrupt), "a", "b", "c"), false},
		{"cancelled transfers", fails(fmt.Errorf("upload: %w", context.Canceled), "a", "b", "c"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := newStopper(cancel)
			for _, st := range tc.steps {
				if st.passed {
					s.passed()
				} else {
					s.failed(st.err, st.repo)
				}
			}
			if got := ctx.Err() != nil; got != tc.stop {
				t.Errorf("stopped %v, want %v (cause %q)", got, tc.stop, s.stopped())
			}
			if tc.stop != (s.stopped() != "") {
				t.Errorf("stopped() = %q", s.stopped())
			}
		})
	}
}

// TestStopperCause: the push stops on the cause of the failures, told without the blob or
// repository, and keeps it whatever fails after.
func TestStopperCause(t *testing.T) {
	s := newStopper(func() {})
	for _, r := range []string{"ess/synapse", "ess/element-web", "ess/postgres"} {
		s.failed(fullDisk(r), r)
	}
	want := oci.Cause(fullDisk("x"))
	if got := s.stopped(); got != want || got == "" {
		t.Fatalf("stopped on %q, want %q", got, want)
	}
	for _, r := range []string{"a", "b", "c", "d"} {
		s.failed(&oci.StatusError{What: "upload to " + r, Code: 503}, r)
	}
	s.passed()
	if got := s.stopped(); got != want {
		t.Errorf("after more failures: %q, want %q", got, want)
	}
}

// TestStopperNil: a nil stopper (a run without one) does nothing.
func TestStopperNil(t *testing.T) {
	var s *stopper
	s.passed()
	s.failed(fullDisk("a"), "a")
	if got := s.stopped(); got != "" {
		t.Errorf("nil stopper stopped: %q", got)
	}
}

// TestStopperConcurrent: blobs failing side by side in many repositories stop the push once.
func TestStopperConcurrent(t *testing.T) {
	var cancels atomic.Int32
	s := newStopper(func() { cancels.Add(1) })
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprint("repo", i)
			s.failed(fullDisk(repo), repo)
		}()
	}
	wg.Wait()
	if cancels.Load() != 1 || s.stopped() == "" {
		t.Errorf("cancelled %d times, stopped on %q", cancels.Load(), s.stopped())
	}
}
