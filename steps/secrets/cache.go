package secrets

import (
	"context"
	"sync"
	"time"
)

// DefaultCacheTTL is how long a value fetched from an external store (Vault,
// CyberArk) is reused when the worker's config sets no cache_ttl: long enough
// that a burst of steps costs one request, short enough that a rotated secret
// is picked up within a minute.
const DefaultCacheTTL = time.Minute

// maxCached bounds the cache; expired entries are swept when it is reached.
const maxCached = 1024

// Cached wraps p so that a value is fetched once per ttl and concurrent
// lookups of the same name share one fetch. Failures are not cached: a
// secret created after a step failed is found by the next attempt. Values
// live only in this process's memory. A ttl of zero or less returns p
// itself.
func Cached(p Provider, ttl time.Duration) Provider {
	if ttl <= 0 {
		return p
	}
	return &cache{inner: p, ttl: ttl, now: time.Now, entries: map[string]cached{}, inflight: map[string]*fetch{}}
}

type cache struct {
	inner Provider
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	entries  map[string]cached
	inflight map[string]*fetch
}

type cached struct {
	value   string
	expires time.Time
}

// fetch is one lookup in progress that later callers wait for.
type fetch struct {
	done  chan struct{}
	value string
	err   error
}

func (c *cache) Resolve(ctx context.Context, name string) (string, error) {
	c.mu.Lock()
	if e, ok := c.entries[name]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return e.value, nil
	}
	if f, ok := c.inflight[name]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.value, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f := &fetch{done: make(chan struct{})}
	c.inflight[name] = f
	c.mu.Unlock()

	// The fetch outlives a caller whose context ends, so that the callers
	// waiting on it are not failed by someone else's cancellation.
	f.value, f.err = c.inner.Resolve(context.WithoutCancel(ctx), name)

	c.mu.Lock()
	delete(c.inflight, name)
	if f.err == nil {
		if len(c.entries) >= maxCached {
			c.sweep()
		}
		c.entries[name] = cached{value: f.value, expires: c.now().Add(c.ttl)}
	}
	c.mu.Unlock()
	close(f.done)
	return f.value, f.err
}

// sweep drops expired entries, and everything if none had expired, so the
// cache never grows past maxCached. Called with mu held.
func (c *cache) sweep() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
}
