package tlsclient

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/outflow-dev/outflow/steps/keystore"
)

const (
	modeFailOpen   = "fail_open"
	modeFailClosed = "fail_closed"

	maxCRLSize  = 32 << 20
	maxOCSPSize = 1 << 20
	// defaultCRLLifetime is how long a CRL without nextUpdate is reused.
	defaultCRLLifetime = time.Hour
)

// RevokedError says the server's certificate (or one of its CAs) has been
// revoked by its issuer.
type RevokedError struct {
	Subject   string
	Serial    string
	RevokedAt time.Time
	Source    string // the CRL or OCSP URL that said so, or "stapled OCSP"
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("certificate %s (serial %s) was revoked on %s according to %s",
		e.Subject, e.Serial, e.RevokedAt.UTC().Format(time.DateOnly), e.Source)
}

// RevocationUnknownError says the revocation status of a certificate could
// not be learned and the profile's revocation mode is fail_closed.
type RevocationUnknownError struct {
	Subject string
	Err     error
}

func (e *RevocationUnknownError) Error() string {
	return fmt.Sprintf("revocation status of %s is unknown: %v", e.Subject, e.Err)
}

func (e *RevocationUnknownError) Unwrap() error { return e.Err }

var errNoRevocationSource = errors.New("the certificate names no CRL distribution point or OCSP responder")

// revocationChecker checks the server's verified chain against CRLs (from
// the certificates' distribution points) and OCSP (stapled, or from the
// responder the certificate names). Answers are cached until the CRL or
// OCSP response says to look again.
type revocationChecker struct {
	mode   string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	crls map[string]*cachedCRL
	ocsp map[string]*cachedOCSP
}

type cachedCRL struct {
	list    *x509.RevocationList
	expires time.Time
}

type cachedOCSP struct {
	resp    *ocsp.Response
	expires time.Time
}

type revocationStatus int

const (
	statusUnknown revocationStatus = iota
	statusGood
	statusRevoked
)

func newRevocationChecker(mode string, client *http.Client, log *slog.Logger) *revocationChecker {
	return &revocationChecker{mode: mode, client: client, log: log, now: time.Now,
		crls: map[string]*cachedCRL{}, ocsp: map[string]*cachedOCSP{}}
}

// check runs in VerifyConnection: after the chain is verified, before any
// request is sent.
func (r *revocationChecker) check(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 {
		return nil // insecure_skip_verify: there is no verified chain to check
	}
	chain := cs.VerifiedChains[0]
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		var stapled []byte
		if i == 0 {
			stapled = cs.OCSPResponse
		}
		status, revokedAt, source, err := r.status(cert, issuer, stapled)
		switch status {
		case statusGood:
			continue
		case statusRevoked:
			return &RevokedError{Subject: cert.Subject.String(), Serial: keystore.SerialHex(cert.SerialNumber), RevokedAt: revokedAt, Source: source}
		}
		if i > 0 && errors.Is(err, errNoRevocationSource) {
			// A private CA often publishes nothing for its intermediates;
			// only the server certificate must be checkable.
			continue
		}
		if r.mode == modeFailClosed {
			return &RevocationUnknownError{Subject: cert.Subject.String(), Err: err}
		}
		r.log.Warn("revocation status unknown; connecting anyway (revocation mode fail_open)",
			"subject", cert.Subject.String(), "error", err.Error())
	}
	return nil
}

// status asks each source in turn until one knows: the stapled OCSP
// response, the CRLs, the OCSP responders.
func (r *revocationChecker) status(cert, issuer *x509.Certificate, stapled []byte) (revocationStatus, time.Time, string, error) {
	var errs []error
	if len(stapled) > 0 {
		resp, err := ocsp.ParseResponseForCert(stapled, cert, issuer)
		if err == nil {
			if s, at := ocspStatus(resp); s != statusUnknown {
				return s, at, "stapled OCSP", nil
			}
		} else {
			errs = append(errs, fmt.Errorf("stapled OCSP response: %w", err))
		}
	}
	for _, url := range cert.CRLDistributionPoints {
		if !isHTTP(url) {
			continue
		}
		list, err := r.crl(url, issuer)
		if err != nil {
			errs = append(errs, fmt.Errorf("CRL %s: %w", url, err))
			continue
		}
		for _, e := range list.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return statusRevoked, e.RevocationTime, "CRL " + url, nil
			}
		}
		return statusGood, time.Time{}, "CRL " + url, nil
	}
	for _, url := range cert.OCSPServer {
		if !isHTTP(url) {
			continue
		}
		resp, err := r.ocspResponse(url, cert, issuer)
		if err != nil {
			errs = append(errs, fmt.Errorf("OCSP %s: %w", url, err))
			continue
		}
		if s, at := ocspStatus(resp); s != statusUnknown {
			return s, at, "OCSP " + url, nil
		}
		errs = append(errs, fmt.Errorf("OCSP %s: the responder does not know the certificate", url))
	}
	if len(errs) == 0 {
		return statusUnknown, time.Time{}, "", errNoRevocationSource
	}
	return statusUnknown, time.Time{}, "", errors.Join(errs...)
}

func ocspStatus(resp *ocsp.Response) (revocationStatus, time.Time) {
	switch resp.Status {
	case ocsp.Good:
		return statusGood, time.Time{}
	case ocsp.Revoked:
		return statusRevoked, resp.RevokedAt
	}
	return statusUnknown, time.Time{}
}

func isHTTP(url string) bool {
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

func (r *revocationChecker) crl(url string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.crls[url]; c != nil && now.Before(c.expires) {
		return c.list, nil
	}
	body, err := r.fetch(http.MethodGet, url, "", nil, maxCRLSize)
	if err != nil {
		return nil, err
	}
	list, err := x509.ParseRevocationList(body)
	if err != nil {
		return nil, fmt.Errorf("parsing CRL: %w", err)
	}
	if !bytes.Equal(list.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("the CRL is issued by %s, not by the certificate's issuer %s", list.Issuer, issuer.Subject)
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("checking CRL signature: %w", err)
	}
	if !list.NextUpdate.IsZero() && now.After(list.NextUpdate) {
		return nil, fmt.Errorf("the CRL is out of date (next update was due %s)", list.NextUpdate.UTC().Format(time.RFC3339))
	}
	expires := now.Add(defaultCRLLifetime)
	if !list.NextUpdate.IsZero() {
		expires = list.NextUpdate
	}
	r.crls[url] = &cachedCRL{list: list, expires: expires}
	return list, nil
}

func (r *revocationChecker) ocspResponse(url string, cert, issuer *x509.Certificate) (*ocsp.Response, error) {
	now := r.now()
	key := url + "|" + string(issuer.RawSubject) + "|" + cert.SerialNumber.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.ocsp[key]; c != nil && now.Before(c.expires) {
		return c.resp, nil
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("creating OCSP request: %w", err)
	}
	body, err := r.fetch(http.MethodPost, url, "application/ocsp-request", req, maxOCSPSize)
	if err != nil {
		return nil, err
	}
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("parsing OCSP response: %w", err)
	}
	expires := now.Add(defaultCRLLifetime)
	if !resp.NextUpdate.IsZero() {
		expires = resp.NextUpdate
	}
	r.ocsp[key] = &cachedOCSP{resp: resp, expires: expires}
	return resp, nil
}

func (r *revocationChecker) fetch(method, url, contentType string, body []byte, limit int64) ([]byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	return data, nil
}
