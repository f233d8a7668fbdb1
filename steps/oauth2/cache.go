package oauth2

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRefreshBefore is how long before a token expires a new one is
// fetched when the credential sets no refresh_before.
const DefaultRefreshBefore = time.Minute

// Cache keeps the access tokens of one worker, one per client: connection,
// token endpoint, client id, authentication method, scopes, audience,
// resource, extra parameters, client secret and key material. A token is
// reused until it is about to expire; concurrent steps that need a new one
// wait for a single token request. The zero value is ready to use; a Cache
// is safe for concurrent use.
type Cache struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Issue, when set, gives tokens instead of the token endpoint: the
	// offline test runner, whose partners are mocks, uses it.
	Issue func(ctx context.Context, c *Client) (*Token, error)

	mu       sync.Mutex
	salt     []byte
	entries  map[string]*cacheEntry
	requests atomic.Int64
}

type cacheEntry struct {
	// lock is held (filled) while a token request for the entry is in
	// flight; a channel so that waiting can be cancelled.
	lock  chan struct{}
	token *Token // guarded by Cache.mu
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Requests counts the token requests the cache has made.
func (c *Cache) Requests() int64 { return c.requests.Load() }

// Get returns a usable token for cl: the cached one, or a new one from the
// token endpoint. cached says whether no token request was made for this
// call.
func (c *Cache) Get(ctx context.Context, cl *Client) (tok *Token, cached bool, err error) {
	key := c.key(cl)
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{lock: make(chan struct{}, 1)}
		c.prune()
		if c.entries == nil {
			c.entries = map[string]*cacheEntry{}
		}
		c.entries[key] = e
	}
	if t := e.token; t != nil && c.usable(t, cl) {
		c.mu.Unlock()
		return t, true, nil
	}
	c.mu.Unlock()

	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-e.lock }()
	c.mu.Lock()
	if t := e.token; t != nil && c.usable(t, cl) {
		// Another step fetched it while this one waited.
		c.mu.Unlock()
		return t, true, nil
	}
	c.mu.Unlock()

	c.requests.Add(1)
	if c.Issue != nil {
		tok, err = c.Issue(ctx, cl)
	} else {
		tok, err = cl.Fetch(ctx, c.now)
	}
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	e.token = tok
	c.mu.Unlock()
	return tok, false, nil
}

// Invalidate forgets tok, the token cl got, so that the next Get fetches a
// new one: after the API refused it (401), or after its certificate
// binding no longer matches. A newer token another step already fetched is
// kept.
func (c *Cache) Invalidate(cl *Client, tok *Token) {
	key := c.key(cl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil && e.token != nil && e.token.AccessToken == tok.AccessToken {
		e.token = nil
	}
}

// usable says whether t can still be sent: it expires later than the
// refresh margin from now. The margin is at most half the token's lifetime,
// so a short-lived token is still used for a while. A token of unknown
// expiry is used until the API refuses it.
func (c *Cache) usable(t *Token, cl *Client) bool {
	if t.ExpiresAt.IsZero() {
		return true
	}
	margin := DefaultRefreshBefore
	if cl.Credential.RefreshBefore > 0 {
		margin = cl.Credential.RefreshBefore.D()
	}
	if life := t.ExpiresAt.Sub(t.IssuedAt); margin > life/2 {
		margin = life / 2
	}
	return c.now().Before(t.ExpiresAt.Add(-margin))
}

// prune drops entries whose token has expired and that no request is
// filling, so that rotated secrets and certificates do not pile up. The
// caller holds mu.
func (c *Cache) prune() {
	now := c.now()
	for k, e := range c.entries {
		if len(e.lock) == 0 && (e.token == nil || !e.token.ExpiresAt.IsZero() && now.After(e.token.ExpiresAt)) {
			delete(c.entries, k)
		}
	}
}

// key identifies cl's tokens. The secret and key material take part under
// a keyed hash, so the key reveals nothing of them, and a rotated secret or
// certificate gets a token of its own.
func (c *Cache) key(cl *Client) string {
	c.mu.Lock()
	if c.salt == nil {
		c.salt = make([]byte, 32)
		_, _ = rand.Read(c.salt)
	}
	salt := c.salt
	c.mu.Unlock()
	cred := cl.Credential
	scopes := append([]string(nil), cred.Scopes...)
	sort.Strings(scopes)
	var cert, signer string
	if cl.Certificate != nil && cl.Certificate.Leaf != nil {
		cert = Thumbprint(cl.Certificate.Leaf)
	}
	if cl.Signer != nil && cl.Signer.Leaf != nil {
		signer = Thumbprint(cl.Signer.Leaf)
	}
	b, _ := json.Marshal([]any{cl.Connection, cl.TokenURL.String(), cred.ClientID, cl.ClientAuth(), scopes,
		cred.Audience, cred.Resource, cred.Params, cl.Secret, cert, signer})
	mac := hmac.New(sha256.New, salt)
	mac.Write(b)
	clear(b)
	return cl.Connection + "/" + hex.EncodeToString(mac.Sum(nil))
}
