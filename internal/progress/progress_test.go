package progress

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {1<<20 - 1, "1024.0 KiB"},
		{1 << 20, "1.0 MiB"}, {5 << 29, "2.5 GiB"}, {3 << 40, "3.0 TiB"}, {1 << 50, "1.0 PiB"}, {math.MaxInt64, "8.0 EiB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestLine(t *testing.T) {
	for _, c := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{512, 1024, time.Second, "pull: 512 B of 1.0 KiB (50%), 512 B/s"},
		{3 << 30, 4 << 30, 2 * time.Second, "pull: 3.0 GiB of 4.0 GiB (75%), 1.5 GiB/s"},
		{100, 0, time.Second, "pull: 100 B of 0 B (0%), 100 B/s"},               // no total yet
		{1, 1, 0, "pull: 1 B of 1 B (100%), 1000 B/s"},                          // no time yet: a millisecond
		{2048, 1024, time.Second, "pull: 2.0 KiB of 1.0 KiB (200%), 2.0 KiB/s"}, // more than announced is said as it is
	} {
		if got := Line("pull", c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("Line(%d, %d, %s) = %q, want %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

// TestMeterConcurrent: adds from many goroutines all count (run with -race).
func TestMeterConcurrent(t *testing.T) {
	var m Meter
	m.SetTotal(8 * 1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Add(1)
			}
		})
	}
	wg.Wait()
	if m.Done() != 8000 || m.Total() != 8000 {
		t.Errorf("done %d, total %d", m.Done(), m.Total())
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for name, w := range map[string]any{"buffer": &bytes.Buffer{}, "file": f, "null": null} {
		if IsTerminal(w.(interface{ Write([]byte) (int, error) })) {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
}

// lines is a writer that keeps every line written and signals each write, never blocking the
// display.
type lines struct {
	mu     sync.Mutex
	got    []string
	notify chan struct{}
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.got = append(l.got, string(p))
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

// wait returns the first line, from index from on, that has prefix, waiting for writes; it
// fails t when none came in 10 seconds.
func (l *lines) wait(t *testing.T, from int, prefix string) (int, string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.got); i++ {
			if strings.HasPrefix(l.got[i], prefix) {
				line := l.got[i]
				l.mu.Unlock()
				return i, line
			}
		}
		l.mu.Unlock()
		select {
		case <-l.notify:
		case <-timeout:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no line %q in 10 s among %d: %q", prefix, len(l.got), l.got[max(0, len(l.got)-3):])
		}
	}
}

func (l *lines) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// TestDisplayPlain: not on a terminal, a line of the meter's state is written at each tick,
// and none once Stop has returned.
func TestDisplayPlain(t *testing.T) {
	var m Meter
	m.SetTotal(1000)
	m.Add(250)
	out := &lines{notify: make(chan struct{}, 1)}
	d := Start(out, "push", &m, time.Millisecond)
	_, first := out.wait(t, 0, "push: ")
	if !strings.HasPrefix(first, "push: 250 B of 1000 B (25%), ") || !strings.HasSuffix(first, "/s\n") {
		t.Errorf("first line %q", first)
	}
	m.Add(750)
	out.wait(t, 0, "push: 1000 B of 1000 B (100%)") // a later tick sees the rest
	d.Stop()
	n := out.count()
	time.Sleep(20 * time.Millisecond) // twenty ticks' time: none may come
	if out.count() != n {
		t.Errorf("%d lines written after Stop", out.count()-n)
	}
}

// TestDisplayStopBeforeTick: a display stopped before its first tick writes nothing.
func TestDisplayStopBeforeTick(t *testing.T) {
	var buf bytes.Buffer
	d := Start(&buf, "x", &Meter{}, time.Hour)
	d.Stop()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}
