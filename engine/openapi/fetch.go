package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// CacheDir is where a project keeps the OpenAPI documents it fetched by
// URL, relative to the project folder. Project loading skips hidden
// folders, so the cache is never read as flows.
const CacheDir = ".outflow/openapi"

// IsURL reports whether an openapi: names a document on the network rather
// than a file of the project.
func IsURL(loc string) bool {
	return strings.HasPrefix(loc, "https://") || strings.HasPrefix(loc, "http://")
}

// CacheName is the file name, inside CacheDir, of the cached copy of the
// document at rawURL; MetaName that of what is known of it (where and when
// it came from).
func CacheName(rawURL string) string { return cacheStem(rawURL) + ".doc" }

// MetaName is the file beside CacheName that says where and when the
// document was fetched.
func MetaName(rawURL string) string { return cacheStem(rawURL) + ".json" }

func cacheStem(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:12])
}

// CheckFetchURL refuses a document URL that the connection named conn (for
// host and scheme) must not be used to fetch: another host would receive
// the connection's credential and client certificate, and plain http would
// downgrade an https connection.
func CheckFetchURL(rawURL, conn, host, scheme string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("openapi %q is not an http or https URL", rawURL)
	}
	if u.User != nil {
		u.User = nil
		return fmt.Errorf("the openapi URL %s carries a user name or password; give the credential on the connection", u)
	}
	if u.Fragment != "" {
		return fmt.Errorf("the openapi URL %s has a #fragment; remove it", rawURL)
	}
	if host != "" && !strings.EqualFold(u.Hostname(), host) {
		return fmt.Errorf("the openapi URL %s is on host %s, but connection %s is for %s: the document is fetched through the connection (credential and client certificate), so it must be on the connection's host",
			rawURL, u.Hostname(), conn, host)
	}
	if scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("the openapi URL %s is plain http, but connection %s uses https", rawURL, conn)
	}
	return nil
}
