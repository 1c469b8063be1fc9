package main

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestLink: through the link, a connection pays a round trip to open and half of one for the
// first byte, and bytes flow at the bandwidth, which two connections share: the shaping makes
// a transfer no faster than that (and, on a loaded machine, not much slower).
func TestLink(t *testing.T) {
	const size = 1 << 20
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				var one [1]byte
				io.ReadFull(c, one[:]) // the request
				c.Write(make([]byte, size))
				c.Close()
			}()
		}
	}()
	rtt, bw := 20*time.Millisecond, 40e6 // 5 MB/s: 1 MiB in 0.21 s
	l, err := startLink(srv.Addr().String(), rtt, bw)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fetch := func() error {
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte{1})
		n, err := io.Copy(io.Discard, c)
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	for _, conns := range []int{1, 2} {
		start := time.Now()
		var wg sync.WaitGroup
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fetch(); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		least := 2*rtt + time.Duration(float64(conns*size)/(bw/8)*float64(time.Second))
		if took < least || took > 3*least+time.Second {
			t.Errorf("%d connection(s) of %d bytes took %v, the link allows no less than %v", conns, size, took, least)
		}
		t.Logf("%d connection(s): %v (least %v)", conns, took, least)
	}
}
