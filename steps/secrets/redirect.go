package secrets

import (
	"fmt"
	"net/http"
	"net/url"
)

// A secret store's redirect is never followed. Every request to a store
// carries a credential — a Vault token, an AppRole secret_id, the client
// certificate the CyberArk provider knows the worker by — and following a
// redirect would hand it to whichever host, port or scheme the answer
// names: a compromised or misconfigured node, a proxy, plain HTTP. No
// redirect, not even to the same origin, is needed to read a secret: a
// Vault standby forwards requests to the active node itself, and a store
// that does redirect is configured at the wrong address, which the error
// says.

// withoutRedirects returns a copy of c that hands 3xx answers back instead
// of following them; the caller's client is left as it is.
func withoutRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// RedirectError is a store's answer that would have sent the request
// elsewhere.
type RedirectError struct {
	// Store names the store and the setting of its address
	// ("vault (secrets.vault.address)").
	Store string
	// Status is the store's answer, such as "307 Temporary Redirect".
	Status string
	// Method and From are the request, To where the answer pointed (query
	// and user information left out: they are not the reader's business).
	Method, From, To string
	// Why says what is wrong with the target beyond being a redirect.
	Why string
}

func (e *RedirectError) Error() string {
	to := e.To
	if to == "" {
		to = "no Location"
	}
	return fmt.Sprintf("%s answered %s %s with %s to %s%s: redirects from a secret store are not followed, "+
		"since the request carries the worker's credentials; set the store's address to the server that answers itself",
		e.Store, e.Method, e.From, e.Status, to, e.Why)
}

// refuseRedirect returns a *RedirectError when resp is a redirect, nil
// otherwise.
func refuseRedirect(store string, resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	e := &RedirectError{Store: store, Status: resp.Status, Method: resp.Request.Method, From: shown(resp.Request.URL)}
	if loc, err := resp.Location(); err == nil {
		e.To = shown(loc)
		from := resp.Request.URL
		switch {
		case from.Scheme == "https" && loc.Scheme != "https":
			e.Why = " (down to plain " + loc.Scheme + ")"
		case loc.Scheme != from.Scheme || loc.Host != from.Host:
			e.Why = " (another server)"
		}
	}
	return e
}

// shown is u without its query and user information.
func shown(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}
