package mirror

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// tally is a Progress and an Observer that keeps what it is told.
type tally struct {
	mu     sync.Mutex
	added  int64
	calls  int
	events []Event
}

func (t *tally) SetTotal(int64) {}

func (t *tally) Add(n int64) {
	t.mu.Lock()
	t.added += n
	t.calls++
	t.mu.Unlock()
}

func (t *tally) Observe(e Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
}

// TestCountReader: every byte read through a CountReader is counted once, in N and in the
// Progress, however the reads are cut, and its reader's error comes through as it was.
func TestCountReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for name, r := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(data) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	} {
		p := &tally{}
		c := NewCountReader(r(), p)
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes, %v", name, len(got), err)
		}
		if c.N() != int64(len(data)) || p.added != int64(len(data)) {
			t.Errorf("%s: N %d, progress %d, want %d", name, c.N(), p.added, len(data))
		}
	}

	broken := errors.New("cable cut")
	p := &tally{}
	c := NewCountReader(io.MultiReader(bytes.NewReader(data[:7]), iotest.ErrReader(broken)), p)
	got, err := io.ReadAll(c)
	if !errors.Is(err, broken) || len(got) != 7 || c.N() != 7 || p.added != 7 {
		t.Errorf("broken reader: %d bytes, N %d, progress %d, err %v", len(got), c.N(), p.added, err)
	}
}

// TestCountReaderState: State passes on the hash state of a verifying reader, so that a write
// through a CountReader can be taken up where it stopped; of another reader it is none.
func TestCountReaderState(t *testing.T) {
	data := []byte("some layer bytes")
	vr := verify.NewReader(bytes.NewReader(data), verify.Digest(data), int64(len(data)))
	if _, ok := any(vr).(archive.Stater); !ok {
		t.Fatal("verify.Reader is no archive.Stater: the test reads nothing")
	}
	c := NewCountReader(vr, NoProgress{})
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	n, state := c.State()
	wn, wstate := vr.State()
	if n != 5 || n != wn || !bytes.Equal(state, wstate) || len(state) == 0 {
		t.Errorf("State() = %d, %x; the reader's %d, %x", n, state, wn, wstate)
	}

	plain := NewCountReader(bytes.NewReader(data), NoProgress{})
	io.ReadAll(plain)
	if n, state := plain.State(); n != 0 || state != nil {
		t.Errorf("State() of a plain reader = %d, %x", n, state)
	}
}

// TestObserve: an Event goes to a Progress that is an Observer, as it was; a Progress that is
// not one is left alone.
func TestObserve(t *testing.T) {
	p := &tally{}
	e := Event{Kind: "blob", Phase: "uploaded", Repo: "ess/synapse", Digest: "sha256:ab", Size: 3, Err: errors.New("x")}
	Observe(p, e)
	if len(p.events) != 1 || p.events[0] != e {
		t.Errorf("observed %+v", p.events)
	}
	Observe(NoProgress{}, e) // nothing to tell, nothing to panic on
	Observe(countOnly{p}, e)
	if len(p.events) != 1 {
		t.Errorf("a Progress without Observe was told: %+v", p.events)
	}
}

// countOnly is a Progress that hides its Observe.
type countOnly struct{ t *tally }

func (c countOnly) SetTotal(n int64) { c.t.SetTotal(n) }
func (c countOnly) Add(n int64)      { c.t.Add(n) }
