package console

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func TestCheckListen(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	pool := x509.NewCertPool()
	tests := []struct {
		name, host string
		auth       AuthConfig
		tls        bool
		want       string // "" for allowed, else a part of the error
	}{
		{"loopback without auth", "127.0.0.1", AuthConfig{Mode: AuthNone}, false, ""},
		{"localhost without auth", "localhost", AuthConfig{}, false, ""},
		{"ipv6 loopback", "::1", AuthConfig{Mode: AuthNone}, false, ""},
		{"all addresses without auth", "0.0.0.0", AuthConfig{Mode: AuthNone}, true, "needs an authentication mode"},
		{"empty host means all addresses", "", AuthConfig{Mode: AuthNone}, true, "needs an authentication mode"},
		{"lan address without auth", "192.0.2.7", AuthConfig{}, true, "not a loopback address"},
		{"a name is not loopback", "console.internal", AuthConfig{Mode: AuthNone}, true, "needs an authentication mode"},
		{"bearer without TLS elsewhere", "192.0.2.7", AuthConfig{Mode: AuthBearer, Tokens: []Token{{Name: "ops", Role: RoleOperator, Value: strings.Repeat("x", 32)}}}, false, "needs TLS"},
		{"bearer with TLS", "192.0.2.7", AuthConfig{Mode: AuthBearer, Tokens: []Token{{Name: "ops", Role: RoleOperator, Value: strings.Repeat("x", 32)}}}, true, ""},
		{"bearer without tokens", "127.0.0.1", AuthConfig{Mode: AuthBearer}, false, "at least one --token"},
		{"short token", "127.0.0.1", AuthConfig{Mode: AuthBearer, Tokens: []Token{{Name: "ops", Value: "short"}}}, false, "shorter than 16"},
		{"basic with a bcrypt hash", "192.0.2.7", AuthConfig{Mode: AuthBasic, Users: []User{{Name: "ann", Role: RoleReadOnly, Hash: string(hash)}}}, true, ""},
		{"basic with a plain password", "192.0.2.7", AuthConfig{Mode: AuthBasic, Users: []User{{Name: "ann", Hash: "secret"}}}, true, "not a bcrypt hash"},
		{"mtls without TLS", "127.0.0.1", AuthConfig{Mode: AuthMTLS, ClientCAs: pool, Allow: []AllowRule{{Match: "cn:a"}}}, false, "needs TLS"},
		{"mtls without CA", "192.0.2.7", AuthConfig{Mode: AuthMTLS, Allow: []AllowRule{{Match: "cn:a"}}}, true, "--client-ca"},
		{"mtls without allow-list", "192.0.2.7", AuthConfig{Mode: AuthMTLS, ClientCAs: pool}, true, "allow-list"},
		{"mtls complete", "192.0.2.7", AuthConfig{Mode: AuthMTLS, ClientCAs: pool, Allow: []AllowRule{{Match: "cn:a", Role: RoleOperator}}}, true, ""},
		{"unknown mode", "127.0.0.1", AuthConfig{Mode: "kerberos"}, false, "unknown authentication mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckListen(tt.host, tt.auth, tt.tls)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestListenRefusesNonLoopbackWithoutAuth(t *testing.T) {
	if _, err := Listen("0.0.0.0:0", nil, AuthConfig{Mode: AuthNone}); err == nil || !strings.Contains(err.Error(), "authentication mode") {
		t.Fatalf("Listen on all addresses without auth: %v", err)
	}
	ln, err := Listen("127.0.0.1:0", nil, AuthConfig{Mode: AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// newTestConsole makes a console whose pages that need no Temporal (the
// flows page without a project, logout, login) answer; the auth, CSRF and
// role checks run before any page.
func newTestConsole(t *testing.T, a AuthConfig, logs *bytes.Buffer) *Console {
	t.Helper()
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	c, err := New(Options{Client: &engine.Client{}, Auth: a, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nonLoopbackIP is an address of this machine that is not loopback, "" if
// it has none.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestNoAuthRefusesNonLoopbackClients serves a console without
// authentication on a non-loopback address of this machine (as a
// misconfigured proxy or a bypassed Listen would) and connects from it:
// the request is refused with 403. On a machine without such an address,
// 127.0.0.2 stands for it and the console is told that only 127.0.0.1 is
// loopback.
func TestNoAuthRefusesNonLoopbackClients(t *testing.T) {
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, nil)
	host := nonLoopbackIP(t)
	if host == "" {
		host = "127.0.0.2"
		c.auth.loopback = func(remote string) bool { return strings.HasPrefix(remote, "127.0.0.1:") }
		t.Logf("no non-loopback address here: 127.0.0.2 plays one")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	srv := &http.Server{Handler: c.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/flows")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "only on loopback") {
		t.Fatalf("from %s: %d %s", host, resp.StatusCode, body)
	}
	// The same console answers on loopback.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2 := &http.Server{Handler: c.Handler()}
	go srv2.Serve(ln2)
	defer srv2.Close()
	resp, err = http.Get("http://" + ln2.Addr().String() + "/flows")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("from loopback: %d", resp.StatusCode)
	}
}

func csrfFrom(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf(?:-token)?" (?:value|content)="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

func get(t *testing.T, cl *http.Client, u string, h ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, cl *http.Client, u string, form url.Values, h ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestBearerLoginSessionsAndRoles(t *testing.T) {
	ops, viewer := "ops-token-0123456789abcdef", "view-token-0123456789abcdef"
	var logs bytes.Buffer
	c := newTestConsole(t, AuthConfig{Mode: AuthBearer, Tokens: []Token{{Name: "ops", Role: RoleOperator, Value: ops}, {Name: "viewer", Role: RoleReadOnly, Value: viewer}}}, &logs)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	cl := noRedirect(jar)
	// Without credentials a page sends the browser to sign in.
	if code, _ := get(t, cl, srv.URL+"/flows"); code != http.StatusSeeOther {
		t.Fatalf("unauthenticated page: %d, want a redirect to /login", code)
	}
	if code, _ := get(t, cl, srv.URL+"/flows", "Authorization", "Bearer wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("wrong bearer: %d", code)
	}
	if code, body := get(t, cl, srv.URL+"/flows", "Authorization", "Bearer "+viewer); code != http.StatusOK || !strings.Contains(body, "viewer · read-only") {
		t.Fatalf("bearer header: %d\n%s", code, body)
	}
	// A wrong token does not sign in.
	if code, _ := post(t, cl, srv.URL+"/login", url.Values{"token": {"nope-0123456789abcdef"}}); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong token: %d", code)
	}
	// The read-only token signs in; the session may look but not act.
	if code, _ := post(t, cl, srv.URL+"/login", url.Values{"token": {viewer}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	code, body := get(t, cl, srv.URL+"/flows")
	if code != http.StatusOK {
		t.Fatalf("page after login: %d", code)
	}
	tok := csrfFrom(t, body)
	if code, body := post(t, cl, srv.URL+"/flows/anything/run", url.Values{"csrf": {tok}}); code != http.StatusForbidden || !strings.Contains(body, "operator role is needed") {
		t.Fatalf("read-only test-run: %d\n%s", code, body)
	}
	if !strings.Contains(logs.String(), "refused an operation to a read-only identity") || !strings.Contains(logs.String(), "identity=viewer") {
		t.Fatalf("the refusal is not logged with the identity:\n%s", logs.String())
	}
	// Signing out ends the session.
	if code, _ := post(t, cl, srv.URL+"/logout", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := get(t, cl, srv.URL+"/flows"); code != http.StatusSeeOther {
		t.Fatalf("page after logout: %d, want a redirect to /login", code)
	}
	if strings.Contains(logs.String(), ops) || strings.Contains(logs.String(), viewer) {
		t.Fatal("a token reached the log")
	}
}

func TestCSRFOnEveryPost(t *testing.T) {
	var logs bytes.Buffer
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, &logs)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	cl := noRedirect(jar)
	_, body := get(t, cl, srv.URL+"/flows")
	tok := csrfFrom(t, body)
	for _, path := range []string{"/logout", "/flows/x/run", "/executions/x/op/cancel", "/schedules/op/pause?id=x"} {
		if code, body := post(t, cl, srv.URL+path, url.Values{}); code != http.StatusForbidden || !strings.Contains(body, "did not come from the console") {
			t.Errorf("POST %s without a token: %d", path, code)
		}
		if code, _ := post(t, cl, srv.URL+path, url.Values{"csrf": {strings.Repeat("0", 64)}}); code != http.StatusForbidden {
			t.Errorf("POST %s with a forged token: %d", path, code)
		}
	}
	// Another browser (another cookie) cannot use this one's token.
	jar2, _ := cookiejar.New(nil)
	if code, _ := post(t, noRedirect(jar2), srv.URL+"/logout", url.Values{"csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("token with another browser's cookie: %d", code)
	}
	// A request a page of another site makes is refused whatever it holds.
	if code, _ := post(t, cl, srv.URL+"/logout", url.Values{"csrf": {tok}}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", code)
	}
	if code, _ := post(t, cl, srv.URL+"/logout", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Errorf("POST with the page's token: %d", code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/flows", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	c.Handler().ServeHTTP(rec, req)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", rec.Header())
	}
	// No page carries inline script or style: the CSP would block it.
	body := rec.Body.String()
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\sstyle="|\son[a-z]+="`).MatchString(body) {
		t.Errorf("inline script or style in the page:\n%s", body)
	}
}

func TestBasicAuth(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	c := newTestConsole(t, AuthConfig{Mode: AuthBasic, Users: []User{{Name: "ann", Role: RoleOperator, Hash: string(hash)}}}, nil)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	for _, tt := range []struct {
		user, pw string
		want     int
	}{{"", "", 401}, {"ann", "wrong", 401}, {"bob", "correct horse", 401}, {"ann", "correct horse", 200}} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/flows", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s/%s: %d, want %d", tt.user, tt.pw, resp.StatusCode, tt.want)
		}
		if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 without a Basic challenge")
		}
	}
}

func TestMutualTLSAllowList(t *testing.T) {
	ca, err := devpki.NewCA("Console Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := devpki.NewCA("Another CA", nil)
	srvLeaf, _ := ca.IssueServer("127.0.0.1", []string{"127.0.0.1"}, nil)
	alice, _ := ca.IssueClient("alice", nil)
	bob, _ := ca.IssueClient("bob", nil)
	mallory, _ := other.IssueClient("alice", nil)
	a := AuthConfig{Mode: AuthMTLS, ClientCAs: ca.Pool(), Allow: []AllowRule{{Match: "cn:alice", Role: RoleOperator}}}
	if err := CheckListen("192.0.2.7", a, true); err != nil {
		t.Fatal(err)
	}
	c := newTestConsole(t, a, nil)
	ln, err := Listen("127.0.0.1:0", func() *tls.Certificate { c := srvLeaf.TLSCertificate(); return &c }(), a)
	if err != nil {
		t.Fatal(err)
	}
	go c.Serve(context.Background(), ln)
	defer ln.Close()
	client := func(leaf *devpki.Leaf) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if leaf != nil {
			cfg.Certificates = []tls.Certificate{leaf.TLSCertificate()}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	u := "https://" + ln.Addr().String() + "/flows"
	resp, err := client(alice).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "alice · operator") {
		t.Fatalf("alice: %d", resp.StatusCode)
	}
	if resp, err := client(bob).Get(u); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob (not in the allow-list): %v %v", resp, err)
	}
	if _, err := client(mallory).Get(u); err == nil {
		t.Fatal("a certificate of another CA got a connection")
	}
	if _, err := client(nil).Get(u); err == nil {
		t.Fatal("no client certificate got a connection")
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := ParseAllowRule("operator"); err == nil {
		t.Error("allow rule without a match accepted")
	}
	if r, err := ParseAllowRule("read-only:CN=bob,O=Ops"); err != nil || r.Role != RoleReadOnly || r.Match != "CN=bob,O=Ops" {
		t.Errorf("allow rule: %+v %v", r, err)
	}
	if _, err := ParseAllowRule("admin:cn:x"); err == nil {
		t.Error("unknown role accepted")
	}
	if _, err := ParseUser("ann:operator:plaintext"); err == nil {
		t.Error("a user with a plain password accepted")
	}
}
