package serve

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a time a test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestFailuresBackOff: the first freeFailures failures cost no wait; each after doubles it, from
// firstWait to maxWait; a success, or failureMemory without a failure, clears the count; the
// wait counts down with the clock.
func TestFailuresBackOff(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFailures(c.Now)
	const ip = "192.0.2.1"
	if w := f.wait(ip); w != 0 {
		t.Fatalf("a client never seen waits %s", w)
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		f.failed(ip)
		if got := f.wait(ip); got != w {
			t.Fatalf("after %d failures: wait %s, want %s", i+1, got, w)
		}
	}
	c.add(20 * time.Second)
	if got := f.wait(ip); got != 40*time.Second {
		t.Fatalf("20 s later: wait %s, want 40s", got)
	}
	c.add(failureMemory)
	if got := f.wait(ip); got != 0 {
		t.Fatalf("past failureMemory: wait %s", got)
	}
	f.failed(ip) // counting starts again
	if got := f.wait(ip); got != 0 {
		t.Fatalf("a first failure after being forgotten: wait %s", got)
	}
	for range freeFailures {
		f.failed(ip)
	}
	if got := f.wait(ip); got != time.Second {
		t.Fatalf("again past the free failures: wait %s", got)
	}
	f.forget(ip)
	if got := f.wait(ip); got != 0 {
		t.Fatalf("after a success: wait %s", got)
	}
	// Failures far apart (more than failureMemory) never add up.
	for range 10 {
		f.failed("198.51.100.1")
		c.add(failureMemory + time.Second)
	}
	f.failed("198.51.100.1")
	if got := f.wait("198.51.100.1"); got != 0 {
		t.Fatalf("failures far apart: wait %s", got)
	}
}

// TestFailuresBounded: the clients remembered are bounded: when full, those past
// failureMemory go first, else the older half; the newest client is remembered.
func TestFailuresBounded(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFailures(c.Now)
	for i := range maxClients {
		for range freeFailures + 1 {
			f.failed(fmt.Sprint("client ", i))
		}
		c.add(time.Millisecond)
	}
	if len(f.clients) != maxClients {
		t.Fatalf("%d clients remembered", len(f.clients))
	}
	f.failed("newcomer")
	if n := len(f.clients); n > maxClients/2+1 || n < maxClients/2-1 {
		t.Fatalf("after the eviction: %d clients remembered, want about half of %d", n, maxClients)
	}
	if _, ok := f.clients["newcomer"]; !ok {
		t.Fatal("the newcomer is not remembered")
	}
	if _, ok := f.clients["client 0"]; ok {
		t.Fatal("the oldest client is still remembered")
	}
	if f.wait(fmt.Sprint("client ", maxClients-1)) == 0 {
		t.Fatal("the latest client was forgotten")
	}
	// When some are past failureMemory, only they go, however old the others are.
	f = newFailures(c.Now)
	for i := range 10 {
		f.failed(fmt.Sprint("stale ", i))
	}
	c.add(6 * time.Minute)
	for i := range maxClients - 10 {
		f.failed(fmt.Sprint("middle ", i))
	}
	c.add(10 * time.Minute) // the stale ones are 16 minutes old, the others 10
	f.failed("last")
	if n := len(f.clients); n != maxClients-10+1 {
		t.Fatalf("%d clients remembered, want the %d that are not stale", n, maxClients-10+1)
	}
	for k := range f.clients {
		if strings.HasPrefix(k, "stale ") {
			t.Fatalf("a stale client is remembered: %s", k)
		}
	}
}

// TestFailuresConcurrent: failures, waits and successes of many clients at once (run with
// -race) keep the counts right.
func TestFailuresConcurrent(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFailures(c.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := fmt.Sprint("192.0.2.", g)
			for range freeFailures + 1 {
				f.failed(ip)
				f.wait("203.0.113.1")
			}
			if g%2 == 0 {
				f.forget(ip)
			}
		}()
	}
	wg.Wait()
	for g := range 8 {
		w := f.wait(fmt.Sprint("192.0.2.", g))
		if (g%2 == 0) != (w == 0) {
			t.Errorf("client %d: wait %s", g, w)
		}
	}
}
