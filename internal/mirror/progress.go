package mirror

import (
	"io"

	"github.com/element-hq/ess-airgap/internal/archive"
)

// Progress receives byte counts, for create and push alike. Implementations must be safe for
// concurrent use and cheap: they are called from the data path.
type Progress interface {
	SetTotal(bytes int64)
	Add(bytes int64)
}

// NoProgress is a Progress that counts nothing.
type NoProgress struct{}

func (NoProgress) SetTotal(int64) {}

func (NoProgress) Add(int64) {}

// CountReader adds what is read through it to a Progress, and counts it (N).
type CountReader struct {
	r io.Reader
	p Progress
	n int64
}

// NewCountReader counts what is read from r into p.
func NewCountReader(r io.Reader, p Progress) *CountReader { return &CountReader{r: r, p: p} }

// N is how many bytes were read through c.
func (c *CountReader) N() int64 { return c.n }

// State passes on the hash state of the reader counted (archive.Stater), when it keeps one.
func (c *CountReader) State() (int64, []byte) {
	if s, ok := c.r.(archive.Stater); ok {
		return s.State()
	}
	return 0, nil
}

func (c *CountReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	c.n += int64(n)
	return n, err
}

// Event is one step of a run: an image or a blob reaching a phase. A Progress that also
// implements Observer is told of each (unbundle --log-format json writes them as JSON lines).
type Event struct {
	Kind  string // "image" or "blob"
	Phase string // image: resolved, failed (create), pushed, failed (push); blob: pulled, cached, kept (create), uploaded, mounted, skipped (push)
	// Container is the image's component.container (several, comma-separated, for one source
	// image that several containers use); Ref its reference.
	Container, Ref string
	Repo           string // a blob's source or destination repository
	Digest         string
	Size           int64
	Err            error
}

// Observer receives Events; it must be safe for concurrent use.
type Observer interface{ Observe(Event) }

// observe tells p of e when p is an Observer.
func Observe(p Progress, e Event) {
	if o, ok := p.(Observer); ok {
		o.Observe(e)
	}
}
