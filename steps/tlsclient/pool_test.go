package tlsclient

import (
	"crypto/tls"
	"net/http"
	"sync"
	"testing"
)

// wave holds every request of a round at the partner until the whole round
// has arrived, so each request needs a connection of its own.
type wave struct {
	mu      sync.Mutex
	size    int
	arrived int
	release chan struct{}
}

func (w *wave) start(size int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.size, w.arrived, w.release = size, 0, make(chan struct{})
}

func (w *wave) option(_ *tls.Config, p *partner) {
	inner := p.Config.Handler
	p.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.arrived++
		release := w.release
		if w.arrived == w.size {
			close(release)
		}
		w.mu.Unlock()
		<-release
		inner.ServeHTTP(rw, r)
	})
}

// TestConcurrentStepsKeepTheirConnections sends two rounds of 64 concurrent
// requests to one partner: the second round reuses the 64 connections of
// the first instead of handshaking again, because a transport keeps up to
// 128 idle connections per host (with 16, 48 would be closed after the
// first round and opened again).
func TestConcurrentStepsKeepTheirConnections(t *testing.T) {
	const n = 64
	w := &wave{}
	p := newPartner(t, nil, nil, nil, w.option)
	c := &Cache{}
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	round := func() {
		w.start(n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, _, err := get(t, c, profile, p.URL); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	round()
	if got := p.newConns.Load(); got != n {
		t.Fatalf("the first round opened %d connections, want %d", got, n)
	}
	round()
	if got := p.newConns.Load(); got != n {
		t.Errorf("after the second round the partner saw %d connections, want the first round's %d reused", got, n)
	}
	t.Logf("handshakes: %+v", c.Handshakes())
}
