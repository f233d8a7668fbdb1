package wsdl

import "github.com/outflow-dev/outflow/engine/docurl"

// CacheDir is where a project keeps the WSDL documents it fetched by URL,
// relative to the project folder. Project loading skips hidden folders, so
// the cache is never read as YAML.
const CacheDir = ".outflow/wsdl"

// IsURL reports whether a step's wsdl names a document on the network
// rather than a file of the project.
func IsURL(loc string) bool { return docurl.IsURL(loc) }

// CacheName is the file name, inside CacheDir, of the cached copy of the
// document at rawURL.
func CacheName(rawURL string) string { return docurl.CacheStem(rawURL) + ".xml" }

// MetaName is the file beside CacheName that says where and when the
// document was fetched.
func MetaName(rawURL string) string { return docurl.CacheStem(rawURL) + ".json" }

// CheckFetchURL refuses a WSDL URL that a connection (named conn, for host,
// scheme and port) must not be used to fetch: see docurl.CheckFetchURL.
func CheckFetchURL(rawURL, conn, host, scheme string, port int) error {
	return docurl.CheckFetchURL("wsdl", rawURL, conn, host, scheme, port)
}
