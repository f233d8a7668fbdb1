package oauth2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/oauth2/oauth2test"
)

// TestTokenRequestFollowsNoRedirect: a token endpoint answering with a
// redirect — to the working authorization server on another port, or to
// plain http — gets the request refused; the target sees no connection,
// so no client secret and no client certificate.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	f := newFixture(t)
	const secret = "client-secret-7f2e91"
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "client_secret_basic", Secret: secret})
	var plainConns atomic.Int64
	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	plain.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			plainConns.Add(1)
		}
	}
	plain.Start()
	defer plain.Close()

	srvCert, err := f.srv.CA.IssueServer("front", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{f.srv.URL + oauth2test.TokenPath, plain.URL + oauth2test.TokenPath} {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
			front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", target+"?state=x")
				w.WriteHeader(status)
			}))
			front.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: f.srv.CA.Pool()}
			front.StartTLS()
			cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow"}, secret)
			cl.TokenURL.Host = strings.TrimPrefix(front.URL, "https://")
			_, err := cl.Fetch(context.Background(), time.Now)
			front.Close()
			var oe *Error
			if !errors.As(err, &oe) || oe.Retry {
				t.Fatalf("%d to %s: err = %v, want a *Error not to retry", status, target, err)
			}
			for _, want := range []string{fmt.Sprintf("(HTTP %d)", status), "redirect to " + target + " not followed", "token_url"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%d to %s: %q lacks %q", status, target, err, want)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "state=x") {
				t.Errorf("the error carries the secret or the query: %v", err)
			}
		}
	}
	if n := f.srv.TokenRequests(); n != 0 {
		t.Errorf("the authorization server behind the redirect got %d token requests", n)
	}
	if n := plainConns.Load(); n != 0 {
		t.Errorf("the plain http target got %d connections", n)
	}
}
