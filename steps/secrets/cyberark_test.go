package secrets

// No CyberArk Central Credential Provider can be installed where these
// tests run, so they talk to an httptest server that speaks its documented
// REST API (GET /AIMWebService/api/Accounts?AppID=&Safe=&Object=, errors as
// {"ErrorCode", "ErrorMsg"}) and, like most CCP installations, authenticates
// the application by its client certificate.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

type fakeCCP struct {
	srv      *httptest.Server
	caFile   string
	requests atomic.Int64
}

// newFakeCCP serves the Accounts API over TLS and answers only applications
// that present a certificate issued by ca with the common name allowedCN.
func newFakeCCP(t *testing.T, ca *devpki.CA, allowedCN string) *fakeCCP {
	t.Helper()
	f := &fakeCCP{}
	accounts := map[string]map[string]any{
		"Partners/partner-keystore": {"Content": "ks-pa55", "UserName": "svc-partner", "Address": "partner.example",
			"Safe": "Partners", "Folder": "Root", "Name": "partner-keystore", "PolicyID": "WinDomain", "PasswordChangeInProcess": "False"},
		"Partners/team/api": {"Content": "api-pa55", "UserName": "svc-api", "Safe": "Partners", "Name": "team/api"},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fail := func(status int, code, msg string) {
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"ErrorCode": code, "ErrorMsg": msg})
		}
		if r.URL.Path != "/AIMWebService/api/Accounts" {
			fail(http.StatusNotFound, "APPAP000E", "unknown path")
			return
		}
		q := r.URL.Query()
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != allowedCN || q.Get("AppID") != "outflow" {
			fail(http.StatusForbidden, "APPAP306E", fmt.Sprintf("Failed to verify application authentication data for application [%s]", q.Get("AppID")))
			return
		}
		acct, ok := accounts[q.Get("Safe")+"/"+q.Get("Object")]
		if !ok {
			fail(http.StatusNotFound, "APPAP004E", fmt.Sprintf("Password object matching query [Safe=%s;Object=%s] was not found (Diagnostic Info: 5). "+
				"Please check that there is a password object that answers your query in the Vault and that both the Provider and the application user have the appropriate permissions needed in order to use the password.",
				q.Get("Safe"), q.Get("Object")))
			return
		}
		_ = json.NewEncoder(w).Encode(acct)
	})
	srvCert, err := ca.IssueServer("ccp.localhost", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(handler)
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f.caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// clientKeystore writes a PKCS#12 keystore, as CyberArk's installation
// guides issue them, and returns its path.
func clientKeystore(t *testing.T, ca *devpki.CA, cn, password string) string {
	t.Helper()
	leaf, err := ca.IssueClient(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, ca.Chain(), password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), cn+".p12")
	if err := os.WriteFile(path, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ccpClient(t *testing.T, ct *ClientTLS) *http.Client {
	t.Helper()
	cfg, _, err := ct.Config()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestCyberArkOverMutualTLS(t *testing.T) {
	ca, err := devpki.NewCA("CCP Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	ccp := newFakeCCP(t, ca, "outflow-agent")
	ks := clientKeystore(t, ca, "outflow-agent", "p12-pw")
	p, err := NewCyberArk(CyberArkOptions{URL: ccp.srv.URL, AppID: "outflow",
		Client: ccpClient(t, &ClientTLS{Keystore: ks, Password: "p12-pw", CA: []string{ccp.caFile}})})
	if err != nil {
		t.Fatal(err)
	}
	res := New("")
	res.Register("cyberark", p)
	ctx := context.Background()
	for ref, want := range map[string]string{
		"cyberark:Partners/partner-keystore":          "ks-pa55",
		"cyberark:Partners/partner-keystore#UserName": "svc-partner",
		"cyberark:Partners/partner-keystore#username": "svc-partner", // properties match regardless of case
		"cyberark:Partners/team/api":                  "api-pa55",    // object names may hold a slash
	} {
		got, err := res.Resolve(ctx, ref)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
		}
	}

	for ref, want := range map[string]string{
		"cyberark:Partners/nope":                    "no account Partners/nope",
		"cyberark:Partners/partner-keystore#Secret": `no property "Secret"`,
		"cyberark:partner-keystore":                 "SAFE/OBJECT",
	} {
		_, err := res.Resolve(ctx, ref)
		var se *Error
		if !errors.As(err, &se) || se.Ref != ref || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error naming the reference and saying %q", ref, err, want)
			continue
		}
		if strings.Contains(err.Error(), "ks-pa55") || strings.Contains(err.Error(), "api-pa55") {
			t.Errorf("%s: the error carries a password: %v", ref, err)
		}
	}
	_, err = res.Resolve(ctx, "cyberark:Partners/nope")
	if !strings.Contains(err.Error(), "APPAP004E") {
		t.Errorf("the CCP's error code is not passed on: %v", err)
	}
}

func TestCyberArkRefusesOtherApplications(t *testing.T) {
	ca, err := devpki.NewCA("CCP Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	ccp := newFakeCCP(t, ca, "outflow-agent")
	other := clientKeystore(t, ca, "someone-else", "pw")
	p, _ := NewCyberArk(CyberArkOptions{URL: ccp.srv.URL, AppID: "outflow",
		Client: ccpClient(t, &ClientTLS{Keystore: other, Password: "pw", CA: []string{ccp.caFile}})})
	_, err = p.Resolve(context.Background(), "Partners/partner-keystore")
	if err == nil || !strings.Contains(err.Error(), "refused application \"outflow\"") || !strings.Contains(err.Error(), "APPAP306E") {
		t.Fatalf("another certificate: %v", err)
	}

	// Without a client certificate the handshake itself fails.
	noCert, _ := NewCyberArk(CyberArkOptions{URL: ccp.srv.URL, AppID: "outflow", Client: ccpClient(t, &ClientTLS{CA: []string{ccp.caFile}})})
	if _, err := noCert.Resolve(context.Background(), "Partners/partner-keystore"); err == nil {
		t.Fatal("a client without a certificate read an account")
	}
	if _, err := NewCyberArk(CyberArkOptions{URL: ccp.srv.URL}); err == nil || !strings.Contains(err.Error(), "app_id") {
		t.Fatalf("no AppID: %v", err)
	}
}
