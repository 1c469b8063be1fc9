package mirror

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestJobsOr: a limit below 1 (unset, or nonsense) is the default; any other is kept, and the
// small reads of an operation get four times its blob transfers.
func TestJobsOr(t *testing.T) {
	for _, c := range []struct{ jobs, want, meta int }{
		{0, DefaultJobs, 4 * DefaultJobs},
		{-3, DefaultJobs, 4 * DefaultJobs},
		{1, 1, 4},
		{DefaultPushJobs, DefaultPushJobs, 4 * DefaultPushJobs},
		{13, 13, 52},
	} {
		if got := JobsOr(c.jobs); got != c.want {
			t.Errorf("JobsOr(%d) = %d, want %d", c.jobs, got, c.want)
		}
		if got := MetadataJobs(c.jobs); got != c.meta {
			t.Errorf("MetadataJobs(%d) = %d, want %d", c.jobs, got, c.meta)
		}
	}
}

// gate holds every fn until want of them are in flight at once, and records the most seen: a
// pool that runs fewer at once than it may never opens it (the test's deadline says so), one
// that runs more is caught by the count.
type gate struct {
	want     int64
	in, most atomic.Int64
	open     chan struct{}
	once     sync.Once
}

func newGate(want int) *gate { return &gate{want: int64(want), open: make(chan struct{})} }

func (g *gate) enter(t *testing.T, ctx context.Context) {
	n := g.in.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	if n >= g.want {
		g.once.Do(func() { close(g.open) })
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		t.Errorf("only %d of %d in flight at once", g.most.Load(), g.want)
	}
	g.in.Add(-1)
}

// deadline is a context that ends a test stuck on a pool that never fills, instead of hanging
// until go test's own timeout.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestForEachLimit: ForEach runs every item once, jobs at a time (not fewer, not more), and
// returns only when every fn returned.
func TestForEachLimit(t *testing.T) {
	for _, jobs := range []int{1, 3, 8} {
		items := make([]int, 4*jobs)
		ran := make([]atomic.Int32, len(items))
		g := newGate(jobs)
		stuck := deadline(t)
		var done atomic.Int32
		ForEach(t.Context(), jobs, items, func(i int, _ int) {
			g.enter(t, stuck)
			ran[i].Add(1)
			done.Add(1)
		})
		if n := done.Load(); n != int32(len(items)) {
			t.Fatalf("jobs %d: returned with %d of %d done", jobs, n, len(items))
		}
		for i := range ran {
			if ran[i].Load() != 1 {
				t.Errorf("jobs %d: item %d ran %d times", jobs, i, ran[i].Load())
			}
		}
		if m := g.most.Load(); m != int64(jobs) {
			t.Errorf("jobs %d: %d at once", jobs, m)
		}
	}
}

// TestForEachOrder: items start in the slice's order (the caller sorts the largest first).
func TestForEachOrder(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	var got []string
	ForEach(t.Context(), 1, items, func(i int, s string) {
		if items[i] != s {
			t.Errorf("item %d is %q, want %q", i, s, items[i])
		}
		got = append(got, s) // one at a time: no lock needed, and -race says so
	})
	if len(got) != len(items) {
		t.Fatalf("ran %v", got)
	}
	for i := range items {
		if got[i] != items[i] {
			t.Fatalf("ran %v, want %v", got, items)
		}
	}
}

// TestForEachStops: once ctx is done ForEach starts no more items; a ctx done before it starts
// none.
func TestForEachStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var ran atomic.Int32
	ForEach(ctx, 2, make([]int, 10), func(int, int) { ran.Add(1) })
	if ran.Load() != 0 {
		t.Errorf("cancelled before: %d ran", ran.Load())
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	var last atomic.Int32
	ForEach(ctx, 1, make([]int, 100), func(i int, _ int) {
		last.Store(int32(i))
		if i == 2 {
			cancel()
		}
	})
	// The item after the one that cancelled may have been handed to the pool already.
	if n := last.Load(); n < 2 || n > 3 {
		t.Errorf("cancelled at item 2: the last item run was %d", n)
	}
}

// TestForEachWeighted: an item weighs 1 to 4 quarters of a job, clamped: with jobs 2, eight
// light items run at once, two heavy ones, and a weight past 4 (or below 1) counts as 4 (as 1)
// rather than waiting for room the pool never has.
func TestForEachWeighted(t *testing.T) {
	for _, c := range []struct {
		name   string
		jobs   int
		weight int64
		most   int
	}{
		{"light", 2, 1, 8},
		{"half", 2, 2, 4},
		{"heavy", 2, 4, 2},
		{"past 4", 1, 100, 1},
		{"zero", 1, 0, 4},
		{"negative", 1, -5, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := make([]int64, 3*c.most)
			for i := range items {
				items[i] = c.weight
			}
			g := newGate(c.most)
			stuck := deadline(t)
			var done atomic.Int32
			ForEachWeighted(stuck, c.jobs, items, func(w int64) int64 { return w }, func(int, int64) {
				g.enter(t, stuck)
				done.Add(1)
			})
			if n := done.Load(); n != int32(len(items)) {
				t.Fatalf("%d of %d ran", n, len(items))
			}
			if m := g.most.Load(); m != int64(c.most) {
				t.Errorf("%d at once, want %d", m, c.most)
			}
		})
	}
}

// TestForEachWeightedStops: ForEachWeighted starts nothing once ctx is done, and stops starting
// items when ctx ends while it waits for room.
func TestForEachWeightedStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var ran atomic.Int32
	ForEachWeighted(ctx, 4, make([]int, 10), func(int) int64 { return 1 }, func(int, int) { ran.Add(1) })
	if ran.Load() != 0 {
		t.Errorf("cancelled before: %d ran", ran.Load())
	}

	// One job of room, taken whole by item 0, which cancels: item 1 may have taken the room
	// as item 0 freed it, none after.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	ran.Store(0)
	ForEachWeighted(ctx, 1, make([]int, 10), func(int) int64 { return 4 }, func(i int, _ int) {
		ran.Add(1)
		if i == 0 {
			cancel()
		}
	})
	if n := ran.Load(); n > 2 {
		t.Errorf("cancelled in item 0: %d items ran", n)
	}
}
