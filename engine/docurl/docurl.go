// Package docurl says which URLs a connection may fetch a partner's API
// description from (a WSDL, an OpenAPI document), and where a project
// caches what it fetched. The rules are the same for every kind of
// document, since the fetch carries the connection's credential and client
// certificate.
package docurl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// IsURL reports whether a document is named by a URL on the network
// rather than by a file of the project.
func IsURL(loc string) bool {
	return strings.HasPrefix(loc, "https://") || strings.HasPrefix(loc, "http://")
}

// CacheStem is the name, without extension, under which a project caches
// the document at rawURL.
func CacheStem(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:12])
}

// CheckFetchURL refuses a URL that the connection named conn (for host,
// scheme and port) must not be used to fetch, key being the YAML key that
// gave it (wsdl, openapi): another host, or another port of the same host,
// would receive the connection's credential and client certificate, and
// plain http would downgrade an https connection. Port 0 stands for the
// scheme's default, as does a URL without a port. An empty host allows any
// host, as for a connection that calls the document's own address.
func CheckFetchURL(key, rawURL, conn, host, scheme string, port int) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s %q is not an http or https URL", key, rawURL)
	}
	if u.User != nil {
		u.User = nil
		return fmt.Errorf("the %s URL %s carries a user name or password; give the credential on the connection", key, u)
	}
	if u.Fragment != "" {
		return fmt.Errorf("the %s URL %s has a #fragment; remove it", key, rawURL)
	}
	if host != "" && !strings.EqualFold(u.Hostname(), host) {
		return fmt.Errorf("the %s URL %s is on host %s, but connection %s is for %s: the document is fetched through its connection (credential and client certificate), so it must be on the connection's host",
			key, rawURL, u.Hostname(), conn, host)
	}
	if !strings.EqualFold(scheme, "http") && u.Scheme != "https" {
		return fmt.Errorf("the %s URL %s is plain http, but connection %s uses https", key, rawURL, conn)
	}
	if host != "" {
		want := port
		if want == 0 {
			want = defaultPort(scheme)
		}
		got := defaultPort(u.Scheme)
		if p := u.Port(); p != "" {
			if got, err = strconv.Atoi(p); err != nil {
				return fmt.Errorf("%s %q has an invalid port", key, rawURL)
			}
		}
		if got != want {
			return fmt.Errorf("the %s URL %s is on port %d of %s, but connection %s uses port %d: the document is fetched through its connection (credential and client certificate), so it must be on the connection's port",
				key, rawURL, got, u.Hostname(), conn, want)
		}
	}
	return nil
}

// defaultPort is the port a URL of scheme means when it gives none.
func defaultPort(scheme string) int {
	if strings.EqualFold(scheme, "http") {
		return 80
	}
	return 443
}
