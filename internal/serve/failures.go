package serve

import (
	"sync"
	"time"
)

// Failed logins are limited per client (clientKey): the first freeFailures in a row cost
// nothing more than their bcrypt comparison; each one after makes the client wait, before
// its next attempt is even compared, twice as long as the one before, from firstWait up to
// maxWait. A success, or failureMemory without a failure, clears the count. Other clients are
// not affected: an attacker locks out its own address only.
const (
	freeFailures  = 3
	firstWait     = time.Second
	maxWait       = time.Minute
	failureMemory = 15 * time.Minute
	// maxClients bounds the clients remembered; when full, the oldest are forgotten.
	maxClients = 10000
)

// failures counts failed logins per client. Safe for concurrent use.
type failures struct {
	now     func() time.Time
	mu      sync.Mutex
	clients map[string]*failing
}

type failing struct {
	count int
	last  time.Time // of the last failure
	until time.Time // no attempt compared before
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, clients: map[string]*failing{}}
}

// wait returns how long client must still wait before its next attempt is compared.
func (f *failures) wait(client string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[client]
	if !ok {
		return 0
	}
	now := f.now()
	if now.Sub(c.last) > failureMemory {
		delete(f.clients, client)
		return 0
	}
	return max(c.until.Sub(now), 0)
}

// failed counts a failed login of client.
func (f *failures) failed(client string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c, ok := f.clients[client]
	if !ok || now.Sub(c.last) > failureMemory {
		if !ok && len(f.clients) >= maxClients {
			f.evict()
		}
		c = &failing{}
		f.clients[client] = c
	}
	c.count++
	c.last = now
	if c.count > freeFailures {
		c.until = now.Add(min(firstWait<<min(c.count-freeFailures-1, 16), maxWait))
	}
}

// forget clears client's failures (it logged in).
func (f *failures) forget(client string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, client)
}

// evict forgets the clients whose last failure is the oldest: those past failureMemory, or
// else the oldest half.
func (f *failures) evict() {
	now := f.now()
	for k, c := range f.clients {
		if now.Sub(c.last) > failureMemory {
			delete(f.clients, k)
		}
	}
	if len(f.clients) < maxClients {
		return
	}
	var oldest time.Time
	for _, c := range f.clients {
		if oldest.IsZero() || c.last.Before(oldest) {
			oldest = c.last
		}
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for k, c := range f.clients {
		if !c.last.After(cut) {
			delete(f.clients, k)
		}
	}
}
