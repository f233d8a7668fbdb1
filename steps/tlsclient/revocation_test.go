package tlsclient

import (
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func TestRevocationByCRL(t *testing.T) {
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	var crl atomic.Value
	var fetches atomic.Int64
	crlServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(crl.Load().([]byte))
	}))
	defer crlServer.Close()
	p := newPartnerWithCA(t, ca, nil, nil, &devpki.Options{CRLDistributionPoints: []string{crlServer.URL + "/partner.crl"}})
	serverCert := p.TLS.Certificates[0].Leaf

	now := time.Now()
	setCRL := func(revoked ...*x509.Certificate) {
		der, err := ca.CRL(revoked, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		crl.Store(der)
	}
	profile := func(mode string) *engine.ProtocolProfile {
		pr := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
		pr.Revocation = &engine.Revocation{Mode: mode}
		return pr
	}

	t.Run("good, fail_closed", func(t *testing.T) {
		setCRL()
		fetches.Store(0)
		c := &Cache{Logger: quietLogger()}
		for range 3 {
			if _, _, _, err := get(t, c, profile("fail_closed"), p.URL); err != nil {
				t.Fatal(err)
			}
			c.CloseIdleConnections()
		}
		if n := fetches.Load(); n != 1 {
			t.Errorf("CRL fetched %d times for 3 handshakes, want 1 (cached until nextUpdate)", n)
		}
	})
	for _, mode := range []string{"fail_closed", "fail_open"} {
		t.Run("revoked, "+mode, func(t *testing.T) {
			setCRL(serverCert)
			_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile(mode), p.URL)
			expectDiagnosis(t, err, CodeServerCertRevoked, "", "revoked", "CN=partner")
		})
	}
	t.Run("revocation off ignores the CRL", func(t *testing.T) {
		setCRL(serverCert)
		if _, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile("off"), p.URL); err != nil {
			t.Fatal(err)
		}
	})

	crlServer.Close() // the CRL is unreachable from now on
	t.Run("unreachable, fail_open", func(t *testing.T) {
		log, logs := logBuffer()
		if _, _, _, err := get(t, &Cache{Logger: log}, profile("fail_open"), p.URL); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "revocation status unknown") {
			t.Errorf("fail_open did not warn: %s", logs)
		}
	})
	t.Run("unreachable, fail_closed", func(t *testing.T) {
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile("fail_closed"), p.URL)
		expectDiagnosis(t, err, CodeRevocationUnknown, "", "fail_closed", "CRL "+crlServer.URL)
	})
}

func TestRevocationByOCSP(t *testing.T) {
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Int64
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
			Status: int(status.Load()), SerialNumber: req.SerialNumber,
			ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), RevokedAt: now.Add(-time.Hour),
		}, ca.Key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp)
	}))
	defer responder.Close()
	p := newPartnerWithCA(t, ca, nil, nil, &devpki.Options{OCSPServers: []string{responder.URL}})
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	profile.Revocation = &engine.Revocation{Mode: "fail_closed"}

	status.Store(ocsp.Good)
	if _, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL); err != nil {
		t.Fatal(err)
	}
	status.Store(ocsp.Revoked)
	_, _, _, err = get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
	expectDiagnosis(t, err, CodeServerCertRevoked, "", "revoked")
}
