package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// link is a TCP proxy on 127.0.0.1 that puts a site's uplink between the clients and the
// upstream registry: every connection pays one round trip to open (the TCP handshake), every
// byte arrives half a round trip after it left, and all connections share the bandwidth, each
// direction its own. A connection keeps at most linkWindow bytes in flight a direction, more
// than the bandwidth-delay product of the default link (400 Mbit/s x 40 ms = 2 MB), so one
// connection can fill it, as a TCP connection with window scaling does.
type link struct {
	ln       net.Listener
	target   string
	rtt      time.Duration
	up, down *pacer
	conns    sync.WaitGroup
	mu       sync.Mutex
	open     map[net.Conn]bool
	// delivered counts the bytes the link handed to the clients: what a client killed while
	// bytes were on the link received (the registry counts what it sent).
	delivered atomic.Int64
}

const (
	linkChunk  = 32 << 10
	linkWindow = 4 << 20
)

// startLink listens on a new port of 127.0.0.1 and forwards to target with round trip rtt and
// bandwidth bitsPerSec in each direction.
func startLink(target string, rtt time.Duration, bitsPerSec float64) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{ln: ln, target: target, rtt: rtt, open: map[net.Conn]bool{},
		up: &pacer{bytesPerSec: bitsPerSec / 8}, down: &pacer{bytesPerSec: bitsPerSec / 8}}
	go l.accept()
	return l, nil
}

// Addr is the host:port the clients use.
func (l *link) Addr() string { return l.ln.Addr().String() }

// Close stops accepting, cuts every connection and waits for their goroutines.
func (l *link) Close() {
	l.ln.Close()
	l.mu.Lock()
	for c := range l.open {
		c.Close()
	}
	l.mu.Unlock()
	l.conns.Wait()
}

func (l *link) track(c net.Conn, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		l.open[c] = true
	} else {
		delete(l.open, c)
	}
}

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.conns.Add(1)
		go l.serve(c)
	}
}

func (l *link) serve(c net.Conn) {
	defer l.conns.Done()
	time.Sleep(l.rtt) // the handshake; what the client sends meanwhile waits in the socket
	u, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.track(c, true)
	l.track(u, true)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pump(u, c, l.up, nil) }()
	go func() { defer wg.Done(); l.pump(c, u, l.down, &l.delivered) }()
	wg.Wait()
	c.Close()
	u.Close()
	l.track(c, false)
	l.track(u, false)
}

type chunk struct {
	b  []byte
	at time.Time // when it arrives at the far end
}

// pump copies src to dst through the link: each chunk leaves when the shared pacer lets it
// and arrives half a round trip later, and is counted in n (if not nil) once written. At the
// end of src it half-closes dst.
func (l *link) pump(dst, src net.Conn, p *pacer, n *atomic.Int64) {
	ch := make(chan chunk, linkWindow/linkChunk)
	go func() {
		defer close(ch)
		for {
			b := make([]byte, linkChunk)
			n, err := src.Read(b)
			if n > 0 {
				leave := p.reserve(n)
				time.Sleep(time.Until(leave))
				ch <- chunk{b: b[:n], at: leave.Add(l.rtt / 2)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range ch {
		if failed {
			continue // drain, so the reader ends
		}
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			src.Close()
		} else if n != nil {
			n.Add(int64(len(c.b)))
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok && !failed {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}

// pacer serialises the chunks of every connection of one direction onto the link.
type pacer struct {
	mu          sync.Mutex
	bytesPerSec float64
	free        time.Time // when the link has sent everything reserved so far
}

// reserve books n bytes on the link and returns when they have left.
func (p *pacer) reserve(n int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.free.Before(now) {
		p.free = now
	}
	p.free = p.free.Add(time.Duration(float64(n) / p.bytesPerSec * float64(time.Second)))
	return p.free
}
