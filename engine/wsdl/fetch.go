package wsdl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// CacheDir is where a project keeps the WSDL documents it fetched by URL,
// relative to the project folder. Project loading skips hidden folders, so
// the cache is never read as YAML.
const CacheDir = ".outflow/wsdl"

// IsURL reports whether a step's wsdl names a document on the network
// rather than a file of the project.
func IsURL(loc string) bool {
	return strings.HasPrefix(loc, "https://") || strings.HasPrefix(loc, "http://")
}

// CacheName is the file name, inside CacheDir, of the cached copy of the
// document at rawURL.
func CacheName(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:12]) + ".xml"
}

// CheckFetchURL refuses a WSDL URL that a connection (named conn, for host,
// scheme and port) must not be used to fetch: another host, or another port
// of the same host, would receive the connection's credential and client
// certificate, and plain http would downgrade an https connection. Port 0
// stands for the scheme's default, as does a URL without a port. An empty
// host allows any host, as for a connection that calls the WSDL's own
// address.
func CheckFetchURL(rawURL, conn, host, scheme string, port int) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("wsdl %q is not an http or https URL", rawURL)
	}
	if u.User != nil {
		u.User = nil
		return fmt.Errorf("the wsdl URL %s carries a user name or password; give the credential on the connection", u)
	}
	if u.Fragment != "" {
		return fmt.Errorf("the wsdl URL %s has a #fragment; remove it", rawURL)
	}
	if host != "" && !strings.EqualFold(u.Hostname(), host) {
		return fmt.Errorf("the wsdl URL %s is on host %s, but connection %s is for %s: a WSDL is fetched through its connection (credential and client certificate), so it must be on the connection's host",
			rawURL, u.Hostname(), conn, host)
	}
	if scheme == "https" && u.Scheme != "https" {
		return fmt.Errorf("the wsdl URL %s is plain http, but connection %s uses https", rawURL, conn)
	}
	if host != "" {
		want := port
		if want == 0 {
			want = defaultPort(scheme)
		}
		got := defaultPort(u.Scheme)
		if p := u.Port(); p != "" {
			if got, err = strconv.Atoi(p); err != nil {
				return fmt.Errorf("wsdl %q has an invalid port", rawURL)
			}
		}
		if got != want {
			return fmt.Errorf("the wsdl URL %s is on port %d of %s, but connection %s uses port %d: a WSDL is fetched through its connection (credential and client certificate), so it must be on the connection's port",
				rawURL, got, u.Hostname(), conn, want)
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
