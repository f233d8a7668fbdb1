// Package console is Outflow's web console: pages to watch executions as
// they run, read each step's request, response, TLS and auth facts, test-run
// flows, and operate executions, schedules and certificates. Pages are
// rendered on the server (html/template); a small script, served as a file
// so that the Content-Security-Policy can forbid inline script, refreshes
// them. Everything it serves is embedded in the binary.
package console

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Project is what the console reads of a project folder: its flows and
// actions to draw and test-run, and its protocol profiles to check.
// Commands provide it (this package does not load YAML); it is read again
// on each page, so edits show without a restart.
type Project interface {
	Root() string
	// Runnables lists the flows and actions.
	Runnables() ([]Runnable, error)
	// Plan compiles a flow or action; StepPlan one step of it.
	Plan(name string) (*engine.Plan, error)
	StepPlan(name, step string) (*engine.Plan, error)
	// Profiles lists the protocol profiles with the connections that use them.
	Profiles() ([]ProfileUse, error)
}

// Runnable is a flow or action of the project.
type Runnable struct {
	Kind        string // Flow | Action
	Name        string
	Description string
	File        string
	Line        int
}

// ProfileUse is a protocol profile and the connections that use it.
type ProfileUse struct {
	Profile     *engine.ProtocolProfile
	Connections []string
	// MutualAuth: at least one of the connections presents the client
	// certificate.
	MutualAuth bool
}

// Options configure a console.
type Options struct {
	// Client reaches Temporal.
	Client *engine.Client
	// Project, when set, gives the flows and certificates pages.
	Project Project
	Auth    AuthConfig
	// Logger receives one line per operator action, with the identity.
	Logger *slog.Logger
	// Operations are the operations on an execution besides the built-in
	// ones (cancel, terminate); see Operation.
	Operations []Operation
	// Refresh is how often the pages that update themselves ask again
	// (default 2s).
	Refresh time.Duration
	// PageSize is the number of executions a page of the list shows
	// (default 50).
	PageSize int
	// CertWithin is the window in which a certificate counts as expiring
	// (default 30 days).
	CertWithin time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Console serves the pages. It is safe for concurrent use.
type Console struct {
	o       Options
	auth    *authenticator
	csrf    *csrf
	pages   map[string]*pageTemplate
	ops     []Operation
	records *recordCache
	static  http.Handler
	mux     *http.ServeMux
}

// New makes a console. It checks the authentication configuration but not
// where it will listen: Listen does that.
func New(o Options) (*Console, error) {
	if o.Client == nil {
		return nil, errors.New("console: no Temporal client")
	}
	if err := o.Auth.validate(true); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.CertWithin <= 0 {
		o.CertWithin = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, _ := fs.Sub(assets, "static")
	c := &Console{
		o: o, auth: newAuthenticator(o.Auth), csrf: &csrf{key: key}, pages: pages,
		ops: append(append(builtinOperations(), recoveryOperations()...), o.Operations...), records: newRecordCache(512),
		static: http.StripPrefix("/static/", http.FileServerFS(static)),
	}
	if err := checkOperations(c.ops); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// Handler is the console's HTTP handler, with authentication, CSRF checks
// and security headers around every page.
func (c *Console) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	return securityHeaders(cop.Handler(http.HandlerFunc(c.serve)))
}

// Listen opens the console's listener after checking the policy: a
// non-loopback address needs an authentication mode and TLS. cert may be nil
// (plain HTTP, loopback only).
func Listen(addr string, cert *tls.Certificate, a AuthConfig) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("console: listen address %q: %w", addr, err)
	}
	if err := CheckListen(host, a, cert != nil); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if cert != nil {
		ln = tls.NewListener(ln, ServerTLS(*cert, a))
	}
	return ln, nil
}

// Serve serves the console on ln until ctx ends.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(c.o.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// URL is where a listener serves the console, for people to open.
func URL(ln net.Listener, tlsOn bool) string {
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/", scheme, ln.Addr().String())
}

// contentSecurityPolicy allows scripts, styles and fetches from the
// console itself only: no inline script or style, no frames, forms post
// only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey int

const (
	identityKey ctxKey = iota
	csrfKey
)

// serve authenticates the request, checks the CSRF token of every POST
// and the role of every operation, then hands it to the pages.
func (c *Console) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/static/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// Scripts and styles hold nothing secret; the login page needs them.
		c.static.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/login" && c.o.Auth.Mode == AuthBearer {
		c.login(w, r)
		return
	}
	id, err := c.auth.identify(r)
	if err != nil {
		c.refuse(w, r, err)
		return
	}
	nonce := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 64 {
		nonce = ck.Value
	} else {
		nonce = randomString(32)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: nonce, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !c.csrf.valid(nonce, id, r.PostFormValue("csrf")) {
			c.o.Logger.Warn("console: refused a request without a valid CSRF token", "identity", id.Name, "auth", id.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			c.fail(w, r, id, http.StatusForbidden, errors.New("this form has expired or did not come from the console; load the page again"))
			return
		}
		if !id.CanOperate() && r.URL.Path != "/logout" {
			c.o.Logger.Warn("console: refused an operation to a read-only identity", "identity", id.Name, "auth", id.Method, "path", r.URL.Path)
			c.fail(w, r, id, http.StatusForbidden, fmt.Errorf("%s may look but not act: the %s role is needed", id.Name, RoleOperator))
			return
		}
	}
	ctx := context.WithValue(r.Context(), identityKey, id)
	ctx = context.WithValue(ctx, csrfKey, c.csrf.token(nonce, id))
	c.mux.ServeHTTP(w, r.WithContext(ctx))
}

func (c *Console) refuse(w http.ResponseWriter, r *http.Request, err error) {
	c.o.Logger.Info("console: refused a request", "path", r.URL.Path, "remote", r.RemoteAddr, "auth", c.o.Auth.Mode, "reason", err.Error())
	switch {
	case errors.Is(err, errForbidden):
		http.Error(w, err.Error(), http.StatusForbidden)
	case c.o.Auth.Mode == AuthBasic:
		w.Header().Set("WWW-Authenticate", `Basic realm="Outflow console", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	case c.o.Auth.Mode == AuthBearer && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get("Authorization") == "":
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	default:
		http.Error(w, err.Error(), http.StatusUnauthorized)
	}
}

// login lets a browser trade a bearer token for a session cookie, since a
// browser cannot send an Authorization header by itself.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		c.render(w, r, http.StatusOK, "login", Identity{}, map[string]any{})
		return
	}
	id, ok := c.auth.token(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		c.o.Logger.Info("console: a login with a wrong token", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "login", Identity{}, map[string]any{"Error": "that token is not one of the console's"})
		return
	}
	key := c.auth.sessions.add(id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: key, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	c.o.Logger.Info("console: signed in", "identity", id.Name, "role", id.Role, "auth", id.Method, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func identityOf(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey).(Identity)
	return id
}

func csrfOf(r *http.Request) string {
	s, _ := r.Context().Value(csrfKey).(string)
	return s
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// logAction logs an operator action with who did it.
func (c *Console) logAction(r *http.Request, action string, args ...any) {
	id := identityOf(r)
	c.o.Logger.Info("console: "+action, append([]any{"identity", id.Name, "role", id.Role, "auth", id.Method, "remote", r.RemoteAddr}, args...)...)
}

// temporalIdentity is how an operator action is signed in Temporal's
// history (the identity field of the request).
func temporalIdentity(id Identity) string {
	return fmt.Sprintf("outflow-console:%s:%s", id.Method, id.Name)
}
