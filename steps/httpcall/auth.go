package httpcall

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/oauth2"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// TokenCacher is implemented by Transports that keep the OAuth 2.0 access
// tokens of this worker. Transports that do not share one cache per
// process.
type TokenCacher interface {
	TokenCache() *oauth2.Cache
}

var processTokens oauth2.Cache

// Authorizer authenticates the requests of one step with its connection's
// credential: a fixed header for basic, bearer and api_key; an access token
// for oauth2_client_credentials, got from the token endpoint through the
// connection's own transport, cached per worker, refreshed once when the
// partner answers 401, and checked against the client certificate the call
// presents when the token is bound to one. One Authorizer serves one step
// attempt; it is not safe for concurrent use.
type Authorizer struct {
	Secrets    *secrets.Resolver
	Transports Transports
	// BaseDir is where project files (a private_key keystore) are found.
	BaseDir    string
	Connection *engine.Connection
	Profile    *engine.ProtocolProfile

	client *oauth2.Client
	cache  *oauth2.Cache
	rt     http.RoundTripper
	token  *oauth2.Token
	facts  *engine.AuthFacts
}

// Facts says how the requests were authorized, for the step's output data;
// nil for fixed credentials.
func (a *Authorizer) Facts() *engine.AuthFacts {
	if a.facts == nil {
		return nil
	}
	f := *a.facts
	return &f
}

func (a *Authorizer) oauth() bool {
	c := a.Connection.Credential
	return c != nil && c.Type == engine.OAuth2ClientCredentials
}

// Apply adds the credential to r. Its errors are *ExchangeError, typed
// Secret, Config, Certificate, OAuth or as transport failures of the token
// request.
func (a *Authorizer) Apply(ctx context.Context, r *http.Request) error {
	if !a.oauth() {
		if err := ApplyCredential(ctx, a.Secrets, r, a.Connection.Credential); err != nil {
			var se *secrets.Error
			if errors.As(err, &se) {
				return &ExchangeError{Type: engine.ErrSecret, Err: err}
			}
			return &ExchangeError{Type: engine.ErrConfig, Err: err}
		}
		return nil
	}
	if err := a.prepare(ctx); err != nil {
		return err
	}
	tok, cached, err := a.get(ctx)
	if err != nil {
		return err
	}
	if tok, err = a.checkBinding(ctx, tok, cached); err != nil {
		return err
	}
	a.use(r, tok, cached)
	return nil
}

func (a *Authorizer) use(r *http.Request, tok *oauth2.Token, cached bool) {
	a.token = tok
	a.facts.TokenCached = cached
	a.facts.TokenExpiresAt = nil
	if !tok.ExpiresAt.IsZero() {
		t := tok.ExpiresAt.UTC()
		a.facts.TokenExpiresAt = &t
	}
	a.facts.BoundCertificate = tok.BoundTo
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	secrets.RedactorFrom(r.Context()).Add(tok.AccessToken, tok.RefreshToken)
}

// Do sends r as package-level Do does. With an OAuth 2.0 credential, a 401
// answer makes it forget the token, fetch a new one and send r once more;
// what the second attempt gets is the result.
func (a *Authorizer) Do(ctx context.Context, r *http.Request, limit int64, what string) (*Exchange, error) {
	hadBody := r.Body != nil && r.Body != http.NoBody
	ex, err := Do(ctx, a.Transports, a.BaseDir, a.Connection, a.Profile, r, limit, what)
	if !a.oauth() || a.token == nil || err != nil || ex == nil || ex.Response.StatusCode != http.StatusUnauthorized {
		return ex, err
	}
	if a.presentedOther(ex) {
		// The call went over a connection made before the keystore was
		// replaced: the next one must be a new handshake.
		closeIdle(a.rt)
	}
	a.cache.Invalidate(a.client, a.token)
	tok, _, terr := a.get(ctx)
	if terr != nil {
		var xe *ExchangeError
		errors.As(terr, &xe)
		xe.Err = fmt.Errorf("%s answered 401 Unauthorized to the access token, and getting a new one failed: %w", what, xe.Err)
		return nil, xe
	}
	if tok, terr = a.checkBinding(ctx, tok, false); terr != nil {
		return nil, terr
	}
	a.use(r, tok, false)
	a.facts.RefreshedAfter401 = true
	if hadBody && r.GetBody != nil {
		body, gerr := r.GetBody()
		if gerr != nil {
			return nil, &ExchangeError{Type: engine.ErrConfig, Err: fmt.Errorf("sending %s again: %w", what, gerr)}
		}
		r.Body = body
	}
	return Do(ctx, a.Transports, a.BaseDir, a.Connection, a.Profile, r, limit, what)
}

// Explain401 says, for a 401 that ends the step, what Outflow already did
// and what the binding looked like, in plain words; "" without OAuth.
func (a *Authorizer) Explain401(ex *Exchange) string {
	if !a.oauth() || a.facts == nil {
		return ""
	}
	msg := ""
	if a.facts.RefreshedAfter401 {
		msg = "a new access token was fetched and the request sent once more, and the partner refused that one too"
	}
	if a.token != nil && a.token.BoundTo != "" && ex != nil && ex.TLS != nil && ex.TLS.ClientCertificate != nil {
		if got := x5tFromFingerprint(ex.TLS.ClientCertificate.FingerprintSHA256); got != "" && got != a.token.BoundTo {
			if msg != "" {
				msg += "; "
			}
			msg += fmt.Sprintf("the token is bound to certificate x5t#S256 %s but this call presented %s (x5t#S256 %s)", a.token.BoundTo, ex.TLS.ClientCertificate.Subject, got)
		}
	}
	return msg
}

// presentedOther says whether the call presented a certificate other than
// the one the token is bound to, as far as the TLS facts tell.
func (a *Authorizer) presentedOther(ex *Exchange) bool {
	if a.token == nil || a.token.BoundTo == "" || ex.TLS == nil || ex.TLS.ClientCertificate == nil {
		return false
	}
	got := x5tFromFingerprint(ex.TLS.ClientCertificate.FingerprintSHA256)
	return got != "" && got != a.token.BoundTo
}

// x5tFromFingerprint turns a colon-separated hex SHA-256 fingerprint into
// the base64url x5t#S256 form.
func x5tFromFingerprint(fp string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(fp, ":", ""))
	if err != nil || len(b) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// prepare resolves what the token request needs on this worker: the
// transport, the token endpoint, the client secret, the key material.
func (a *Authorizer) prepare(ctx context.Context) error {
	conn, cred := a.Connection, a.Connection.Credential
	a.facts = &engine.AuthFacts{Type: cred.Type, ClientAuth: cred.ClientAuth, Scopes: cred.Scopes}
	if a.facts.ClientAuth == "" {
		a.facts.ClientAuth = engine.DefaultOAuth2ClientAuth
	}
	if cred.ClientID == "" {
		return &ExchangeError{Type: engine.ErrConfig, Err: fmt.Errorf("the oauth2_client_credentials credential of connection %q has no client_id", conn.Name)}
	}
	tokenURL, err := TokenURL(conn, a.Profile)
	if err != nil {
		return &ExchangeError{Type: engine.ErrConfig, Err: err}
	}
	a.facts.TokenURL = tokenURL.String()
	a.rt = defaultTransport
	if a.Transports != nil {
		if a.rt, err = a.Transports.RoundTripper(ctx, conn, a.Profile, a.BaseDir); err != nil {
			var se *secrets.Error
			if errors.As(err, &se) {
				return &ExchangeError{Type: engine.ErrSecret, Err: err}
			}
			return &ExchangeError{Type: engine.ErrCertificate, Err: err}
		}
	}
	a.cache = &processTokens
	if tc, ok := a.Transports.(TokenCacher); ok && tc.TokenCache() != nil {
		a.cache = tc.TokenCache()
	}
	cl := &oauth2.Client{Connection: conn.Name, Credential: cred, TokenURL: tokenURL, Transport: a.rt, Certificate: tlsclient.PresentedCertificate(a.rt)}
	switch cl.ClientAuth() {
	case engine.ClientSecretBasic, engine.ClientSecretPost:
		if cred.ClientSecret == nil {
			return &ExchangeError{Type: engine.ErrConfig, Err: fmt.Errorf("client_auth %s of connection %q needs client_secret", cl.ClientAuth(), conn.Name)}
		}
		if a.Secrets == nil {
			return &ExchangeError{Type: engine.ErrSecret, Err: &secrets.Error{Ref: cred.ClientSecret.Ref, Err: errors.New("no secret resolver on this worker")}}
		}
		if cl.Secret, err = a.Secrets.Resolve(ctx, cred.ClientSecret.Ref); err != nil {
			return &ExchangeError{Type: engine.ErrSecret, Err: fmt.Errorf("resolving the client_secret of connection %q: %w", conn.Name, err)}
		}
	case engine.PrivateKeyJWT:
		// A cache that issues tokens itself (offline tests) signs nothing.
		if cred.PrivateKey != nil && a.cache.Issue == nil {
			if cl.Signer, err = a.loadPrivateKey(ctx, cred.PrivateKey); err != nil {
				var se *secrets.Error
				if errors.As(err, &se) {
					return &ExchangeError{Type: engine.ErrSecret, Err: err}
				}
				return &ExchangeError{Type: engine.ErrCertificate, Err: err}
			}
		}
	}
	a.client = cl
	return nil
}

func (a *Authorizer) loadPrivateKey(ctx context.Context, ks *engine.Keystore) (*tls.Certificate, error) {
	path := ks.Path
	if !filepath.IsAbs(path) && a.BaseDir != "" {
		path = filepath.Join(a.BaseDir, path)
	}
	secret := func(ref *engine.SecretRef) (string, error) {
		if ref == nil {
			return "", nil
		}
		if a.Secrets == nil {
			return "", &secrets.Error{Ref: ref.Ref, Err: errors.New("no secret resolver on this worker")}
		}
		return a.Secrets.Resolve(ctx, ref.Ref)
	}
	pw, err := secret(ks.Password)
	if err != nil {
		return nil, fmt.Errorf("resolving the private_key password: %w", err)
	}
	kpw, err := secret(ks.KeyPassword)
	if err != nil {
		return nil, fmt.Errorf("resolving the private_key key_password: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the private_key keystore: %w", err)
	}
	store, err := keystore.Load(data, pw, kpw, ks.Alias)
	if err != nil {
		return nil, fmt.Errorf("loading the private_key keystore %s: %w", path, err)
	}
	cert, err := store.TLSCertificate()
	if err != nil {
		return nil, fmt.Errorf("loading the private_key keystore %s: %w", path, err)
	}
	return &cert, nil
}

// get takes a token from the cache or the token endpoint, turning failures
// into typed ExchangeErrors: the endpoint's refusal in its own words, or a
// transport failure explained like a step's.
func (a *Authorizer) get(ctx context.Context) (*oauth2.Token, bool, error) {
	rctx := ctx
	var obs Observation
	if o, ok := a.Transports.(TLSObserver); ok {
		rctx, obs = o.Observe(ctx)
	}
	tok, cached, err := a.cache.Get(rctx, a.client)
	if err == nil {
		return tok, cached, nil
	}
	var oe *oauth2.Error
	switch {
	case errors.As(err, &oe) && oe.Transport:
		typ, retry, diagnosed := classifyTransport(ctx, oe.Err, obs, a.Profile)
		oe.Err = diagnosed
		return nil, false, &ExchangeError{Type: typ, Retry: retry, Err: oe}
	case oe != nil:
		return nil, false, &ExchangeError{Type: engine.ErrOAuth, Retry: oe.Retry, Err: oe}
	case ctx.Err() != nil:
		return nil, false, &ExchangeError{Type: engine.ErrTimeout, Retry: true, Err: fmt.Errorf("waiting for an access token: %w", err)}
	}
	return nil, false, &ExchangeError{Type: engine.ErrOAuth, Retry: true, Err: err}
}

// checkBinding makes sure a certificate-bound token is bound to the
// certificate the call will present. A mismatch on a token got over a
// connection made before the keystore was replaced is mended by one new
// token over a new connection; a mismatch that remains fails the step in
// plain words.
func (a *Authorizer) checkBinding(ctx context.Context, tok *oauth2.Token, cached bool) (*oauth2.Token, error) {
	cert := tlsclient.PresentedCertificate(a.rt)
	err := oauth2.CheckBinding(tok, cert, a.Connection.Name)
	var be *oauth2.BindingError
	if !errors.As(err, &be) {
		if err != nil {
			return nil, &ExchangeError{Type: engine.ErrOAuth, Err: err}
		}
		return tok, nil
	}
	closeIdle(a.rt)
	a.cache.Invalidate(a.client, tok)
	a.client.Certificate = cert
	next, _, gerr := a.get(ctx)
	if gerr != nil {
		return nil, gerr
	}
	if err := oauth2.CheckBinding(next, cert, a.Connection.Name); err != nil {
		if errors.As(err, &be) {
			be.Refetched = true
		}
		return nil, &ExchangeError{Type: engine.ErrOAuth, Err: err}
	}
	return next, nil
}

// TokenURL resolves a credential's token_url against the connection's base
// URL: an absolute URL stays as it is, "/oauth2/token" replaces the base
// path, "token" is appended to it.
func TokenURL(conn *engine.Connection, profile *engine.ProtocolProfile) (*url.URL, error) {
	cred := conn.Credential
	ref, err := url.Parse(cred.TokenURL)
	if err != nil || cred.TokenURL == "" {
		return nil, fmt.Errorf("the token_url %q of connection %q is not a URL", cred.TokenURL, conn.Name)
	}
	u := ref
	if !ref.IsAbs() {
		base, err := BuildURL(conn, profile, "", nil)
		if err != nil {
			return nil, fmt.Errorf("resolving the token_url %q of connection %q: %w", cred.TokenURL, conn.Name, err)
		}
		base.RawQuery = ""
		if !strings.HasSuffix(base.Path, "/") {
			base.Path += "/"
		}
		u = base.ResolveReference(ref)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || conn.Scheme != "http") {
		return nil, fmt.Errorf("the token_url %s of connection %q must use https: a client secret or token must not travel in clear text", u, conn.Name)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("the token_url %q of connection %q names no host", cred.TokenURL, conn.Name)
	}
	return u, nil
}
