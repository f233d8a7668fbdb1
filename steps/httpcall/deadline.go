package httpcall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/outflow-dev/outflow/engine"
)

// callDeadline is the cause a step's context carries when it ends at the
// deadline WithCallDeadline set.
type callDeadline struct {
	timeout time.Duration // the step's timeout (start-to-close)
}

func (d *callDeadline) Error() string {
	return fmt.Sprintf("the step's timeout of %s ran out", d.timeout)
}

// Is makes errors.Is(err, context.DeadlineExceeded) true for it: the context
// did end at a deadline.
func (d *callDeadline) Is(target error) bool { return target == context.DeadlineExceeded }

// WithCallDeadline returns ctx with a deadline a little before its own (the
// activity's start-to-close deadline). A call still running then is cut off
// by the step itself, which fails with a record of what it sent and how far
// it got; cut off by Temporal's timeout instead, the step's failure would
// carry nothing but "timed out". The margin is a tenth of the step's
// timeout, at least 100 ms and at most 2 s: time for the activity to report
// its failure to the server before the server gives up on it.
func WithCallDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	timeout := time.Until(deadline)
	if activity.IsActivity(ctx) {
		if info := activity.GetInfo(ctx); info.StartToCloseTimeout > 0 {
			timeout = info.StartToCloseTimeout
		}
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-callMargin(timeout)), &callDeadline{timeout: timeout.Round(time.Millisecond)})
}

func callMargin(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 100*time.Millisecond), 2*time.Second, max(timeout/2, 0))
}

// stepTimedOut returns the cause of ctx's end when it is the step's own
// deadline (WithCallDeadline), else nil.
func stepTimedOut(ctx context.Context) *callDeadline {
	var d *callDeadline
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &d) {
		return d
	}
	return nil
}

// TimedOut retypes a step's failure as a retryable Timeout when the step's
// context ended at its deadline (WithCallDeadline) first: whatever failed
// then — a secret store, a token endpoint, the call — failed for want of
// time, which another attempt may have. Other failures pass unchanged.
func TimedOut(ctx context.Context, typ string, retry bool, err error) (string, bool, error) {
	d := stepTimedOut(ctx)
	if d == nil || typ == engine.ErrTimeout {
		return typ, retry, err
	}
	return engine.ErrTimeout, true, fmt.Errorf("%w: %w", d, err)
}

// progress records how far one HTTP exchange got, for a failure that cuts
// it off: what a timed-out step's record says. It is safe for concurrent
// use (the transport calls the trace hooks from its own goroutines).
type progress struct {
	// done ends the record: what the transport does after the step's
	// context ended (the connection torn down, a late byte) is not progress.
	done         <-chan struct{}
	mu           sync.Mutex
	addr         string // host:port dialed
	resolving    bool
	connecting   bool
	connected    bool
	tlsStarted   bool
	tlsDone      bool
	gotConn      bool
	reused       bool
	wroteHeaders bool
	wroteRequest bool
	firstByte    bool
	status       string // set once the response headers arrived
	bodyRead     int64
	bodyLength   int64 // Content-Length, -1 when unknown
}

func (p *progress) trace() *httptrace.ClientTrace {
	set := func(f func()) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.ended() {
			return
		}
		f()
	}
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { set(func() { p.resolving = true }) },
		DNSDone:  func(httptrace.DNSDoneInfo) { set(func() { p.resolving = false }) },
		ConnectStart: func(_, addr string) {
			set(func() { p.addr, p.connecting = addr, true })
		},
		ConnectDone: func(_, addr string, err error) {
			set(func() {
				if err == nil {
					p.addr, p.connected = addr, true
				}
			})
		},
		TLSHandshakeStart: func() { set(func() { p.tlsStarted = true }) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			set(func() { p.tlsDone = err == nil })
		},
		GotConn: func(ci httptrace.GotConnInfo) {
			set(func() {
				p.gotConn, p.reused = true, ci.Reused
				if _, ok := ci.Conn.(*tls.Conn); ok && ci.Reused {
					p.tlsDone = true
				}
				if ci.Conn != nil {
					p.addr = ci.Conn.RemoteAddr().String()
				}
			})
		},
		WroteHeaders:         func() { set(func() { p.wroteHeaders = true }) },
		WroteRequest:         func(i httptrace.WroteRequestInfo) { set(func() { p.wroteRequest = i.Err == nil }) },
		GotFirstResponseByte: func() { set(func() { p.firstByte = true }) },
	}
}

func (p *progress) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *progress) gotResponse(resp *http.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = resp.Status
	p.bodyLength = resp.ContentLength
}

func (p *progress) readBody(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended() {
		p.bodyRead = n
	}
}

// String says how far the exchange got, in the order things happen, and
// where it stopped: "connected to 10.0.0.5:443, TLS handshake done, request
// sent; no response headers came".
func (p *progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var done []string
	var stuck string
	switch {
	case p.gotConn && p.reused:
		done = append(done, "reused a connection to "+p.addr)
	case p.connected || p.gotConn:
		done = append(done, "connected to "+p.addr)
	case p.connecting:
		stuck = "connecting to " + p.addr + " did not finish"
	case p.resolving:
		stuck = "resolving the host name did not finish"
	default:
		stuck = "no connection was made"
	}
	if stuck == "" && p.tlsStarted && !p.reused {
		if p.tlsDone {
			done = append(done, "TLS handshake done")
		} else {
			stuck = "the TLS handshake did not finish"
		}
	}
	if stuck == "" {
		switch {
		case p.status != "":
			done = append(done, "request sent", "response headers received ("+p.status+")")
			body := fmt.Sprintf("%d bytes of the body read", p.bodyRead)
			if p.bodyLength >= 0 {
				body = fmt.Sprintf("%d of %d bytes of the body read", p.bodyRead, p.bodyLength)
			}
			done = append(done, body)
			stuck = "the rest of the body did not come"
		case p.firstByte:
			done = append(done, "request sent")
			stuck = "the response headers did not finish"
		case p.wroteRequest:
			done = append(done, "request sent")
			stuck = "no response came"
		case p.wroteHeaders:
			done = append(done, "request headers sent")
			stuck = "sending the request body did not finish"
		default:
			stuck = "the request was not sent"
		}
	}
	if len(done) == 0 {
		return stuck
	}
	return strings.Join(done, ", ") + "; " + stuck
}
