// Package apispec fetches the API descriptions (OpenAPI and Swagger
// documents) that connections name by URL, through the connection itself:
// its protocol profile's transport, so the partner sees the same client
// certificate as the steps' calls, and its credential. The loader of a
// project (flows) gets it as a flows.OpenAPIFetcher from the commands.
package apispec

import (
	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/steps/doccache"
)

// Documents is the kind of document a doccache.Fetcher fetches for
// connections that name their OpenAPI document by URL (and for the
// documents its $refs name): kept in openapi.CacheDir.
var Documents = doccache.Kind{
	Noun:    "OpenAPI document",
	Accept:  "application/vnd.oai.openapi+json, application/json, application/yaml, application/x-yaml, text/yaml;q=0.9, */*;q=0.1",
	MaxSize: reader.MaxDocumentSize,
	CheckURL: func(rawURL string, conn *engine.Connection) error {
		return openapi.CheckFetchURL(rawURL, conn.Name, conn.Host, conn.Scheme, conn.Port)
	},
	CacheName: openapi.CacheName,
	MetaName:  openapi.MetaName,
	Refuse: func(body []byte) string {
		// No JSON or YAML document starts like HTML or XML.
		if doccache.StartsLikeMarkup(body) {
			return "is HTML or XML, not JSON or YAML (a login or error page?)"
		}
		return ""
	},
}

// ListCache lists the documents in an OpenAPI cache folder.
func ListCache(dir string) ([]doccache.Cached, error) { return doccache.List(dir, Documents) }
