package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// SameAnswer is how many times in a row one transfer may get the same error answer (a 5xx
// with the same words) before it stops: a registry whose disk is full answers every upload
// alike, and another try only repeats it. Broken connections do not count: they are what
// retries are for.
const SameAnswer = 4

// Budget is what one transfer (a blob pulled or uploaded) may spend on retries, at every
// level: the transport's retries of its requests and the caller's retries of the whole
// transfer take from one count and one deadline, instead of multiplying. A request that gets
// an answer (Progress) gives the count and the deadline back: a long transfer that moves is
// not cut by hiccups spread over an hour. The same error answer SameAnswer times in a row ends
// it, whatever succeeded in between (a full disk opens upload sessions, and refuses every
// upload). Safe for concurrent use.
type Budget struct {
	mu       sync.Mutex
	retries  int           // retries allowed without progress
	left     int           // retries left
	total    time.Duration // from the first failure without progress, no retry starts after it
	deadline time.Time     // set at that failure
	last     string        // the last error answer, and how many times in a row
	same     int
}

// NewBudget allows retries more tries without progress, within total time of the first
// failure (the time a transfer takes before it fails is not spent on retries).
func NewBudget(retries int, total time.Duration) *Budget {
	return &Budget{retries: retries, left: retries, total: total}
}

// Progress records a request that got an answer: the count and the deadline start again. The
// run of identical error answers does not.
func (b *Budget) Progress() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left, b.deadline = b.retries, time.Time{}
}

// NewBudget is a budget of the client's --retries and --retry-time for one transfer, at least
// floor retries (a whole-blob retry covers what the transport cannot replay).
func (c *Client) NewBudget(floor int) *Budget {
	return NewBudget(max(c.o.attempts-1, floor), c.o.retryTime)
}

// Retry reports whether another try may start after a failure: it takes one retry from the
// budget. answer is the registry's error answer ("" for a broken connection, which is not
// one): the same answer SameAnswer times in a row stops the transfer.
func (b *Budget) Retry(answer string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deadline.IsZero() {
		b.deadline = time.Now().Add(b.total)
	}
	if answer != "" && answer == b.last {
		b.same++
	} else {
		b.last, b.same = answer, 1
	}
	if answer != "" && b.same >= SameAnswer || b.left <= 0 || time.Now().After(b.deadline) {
		return false
	}
	b.left--
	return true
}

// Repeated returns the answer and how many times in a row it came, when the budget stopped on
// it (SameAnswer times), else "", 0.
func (b *Budget) Repeated() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == "" || b.same < SameAnswer {
		return "", 0
	}
	return b.last, b.same
}

type budgetKey struct{}

// WithBudget makes every request made with ctx take its retries from b.
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

func budgetOf(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Answer is the registry's error answer an error carries, as Budget.Retry counts it: the
// status and the registry's own words, for a 5xx (or 408, 429); "" for anything else.
func Answer(err error) string {
	var se *StatusError
	if errors.As(err, &se) && se.Transient() {
		return se.cause()
	}
	return ""
}

// answerOf is the error answer of a response whose body (its first bytes) is body.
func answerOf(resp *http.Response, body []byte) string {
	if resp == nil || !TransientStatus(resp.StatusCode) {
		return ""
	}
	e := &StatusError{Code: resp.StatusCode}
	e.Reg, e.Message = registryError(body)
	if e.Reg == "" && e.Message == "" {
		e.Message = bodyLine(body)
	}
	return e.cause()
}

// cause is the status and the registry's words, without what was asked.
func (e *StatusError) cause() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	switch {
	case e.Reg != "" && e.Message != "":
		msg += fmt.Sprintf(" (%s: %s)", e.Reg, e.Message)
	case e.Reg != "" || e.Message != "":
		msg += fmt.Sprintf(" (%s%s)", e.Reg, e.Message)
	}
	return msg
}
