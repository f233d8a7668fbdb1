package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// CyberArk resolves "cyberark:" references through CyberArk's Central
// Credential Provider (CCP) REST API:
//
//	GET {URL}/AIMWebService/api/Accounts?AppID=...&Safe=...&Object=...
//
// A reference is SAFE/OBJECT, optionally followed by #PROPERTY to read
// another property of the account than its password ("Content"), such as
// #UserName. The application ID comes from the worker's configuration: it
// is what the CCP authorizes, together with the client certificate, the
// address or the OS user of the caller. It is safe for concurrent use.
type CyberArk struct {
	opts CyberArkOptions
}

// CyberArkOptions configure a CyberArk provider.
type CyberArkOptions struct {
	// URL is the CCP's base URL, such as https://ccp.example.com; the
	// AIMWebService path is appended.
	URL string
	// AppID is the application ID the CCP knows this worker by.
	AppID string
	// Client sends the requests. Nil means a client with a 30 second timeout
	// and the system's roots. The CCP usually authenticates applications by
	// their client certificate: give it a transport with one. The provider
	// uses a copy that follows no redirect (see RedirectError).
	Client *http.Client
}

// NewCyberArk checks the options and returns a provider; it makes no request.
func NewCyberArk(o CyberArkOptions) (*CyberArk, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("cyberark url %q is not an http(s) URL such as https://ccp.example.com", o.URL)
	}
	if o.AppID == "" {
		return nil, errors.New("cyberark needs app_id: the application ID the Central Credential Provider knows this worker by")
	}
	o.URL = strings.TrimRight(o.URL, "/")
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	o.Client = withoutRedirects(o.Client)
	return &CyberArk{opts: o}, nil
}

// parseCyberArkRef splits SAFE/OBJECT#PROPERTY. Safe names cannot hold a
// slash, object names can: the first slash separates them.
func parseCyberArkRef(name string) (safe, object, property string, err error) {
	rest := name
	if i := strings.LastIndexByte(rest, '#'); i >= 0 {
		rest, property = rest[:i], rest[i+1:]
		if property == "" {
			return "", "", "", errors.New("nothing after #: name the account property, or leave out # for the password")
		}
	}
	safe, object, ok := strings.Cut(rest, "/")
	if !ok || safe == "" || object == "" {
		return "", "", "", errors.New("a cyberark reference is SAFE/OBJECT (the safe and the account's object name), such as cyberark:Partners/partner-keystore")
	}
	if property == "" {
		property = "Content"
	}
	return safe, object, property, nil
}

// Resolve asks the CCP for one account and returns its password, or the
// property the reference names.
func (c *CyberArk) Resolve(ctx context.Context, name string) (string, error) {
	safe, object, property, err := parseCyberArkRef(name)
	if err != nil {
		return "", err
	}
	q := url.Values{"AppID": {c.opts.AppID}, "Safe": {safe}, "Object": {object}}
	u := c.opts.URL + "/AIMWebService/api/Accounts?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("building the cyberark request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking cyberark for %s/%s: %w", safe, object, err)
	}
	defer resp.Body.Close()
	if err := refuseRedirect("cyberark (secrets.cyberark.url)", resp); err != nil {
		return "", fmt.Errorf("asking cyberark for %s/%s: %w", safe, object, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading cyberark's answer for %s/%s: %w", safe, object, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", cyberArkError(resp, body, safe, object, c.opts.AppID)
	}
	var account map[string]any
	if err := json.Unmarshal(body, &account); err != nil {
		return "", fmt.Errorf("cyberark's answer for %s/%s is not a JSON account", safe, object)
	}
	names := make([]string, 0, len(account))
	for k := range account {
		names = append(names, k)
	}
	sort.Strings(names)
	// The property as written, else the first that differs only in case:
	// the same one on every call, whatever the map's order.
	match := ""
	for _, k := range names {
		if k == property || match == "" && strings.EqualFold(k, property) {
			match = k
		}
	}
	if v, ok := account[match]; ok && match != "" {
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, _ := json.Marshal(v)
		return string(b), nil
	}
	return "", fmt.Errorf("cyberark account %s/%s has no property %q (properties: %s)", safe, object, property, strings.Join(names, ", "))
}

// cyberArkError explains a refusal with the CCP's error code and message,
// which name the query and the application, never a password.
func cyberArkError(resp *http.Response, body []byte, safe, object, appID string) error {
	var e struct {
		ErrorCode string `json:"ErrorCode"`
		ErrorMsg  string `json:"ErrorMsg"`
	}
	_ = json.Unmarshal(body, &e)
	said := strings.TrimSpace(e.ErrorCode + " " + e.ErrorMsg)
	if said == "" {
		said = "no error message"
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || e.ErrorCode == "APPAP004E":
		return fmt.Errorf("cyberark has no account %s/%s that application %q may read (%s %s)", safe, object, appID, resp.Status, said)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("cyberark refused application %q reading %s/%s (%s %s): check the application's allowed machines, OS user or client certificate in the Vault",
			appID, safe, object, resp.Status, said)
	}
	return fmt.Errorf("cyberark answered %s for %s/%s: %s", resp.Status, safe, object, said)
}
