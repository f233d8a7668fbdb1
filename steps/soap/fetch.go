package soap

import (
	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/doccache"
)

// WSDLDocuments is the kind of document a doccache.Fetcher fetches for
// SOAP steps that name their WSDL by URL (and for the documents it
// imports): kept in wsdl.CacheDir.
var WSDLDocuments = doccache.Kind{
	Noun:    "WSDL",
	Accept:  "text/xml, application/xml, application/wsdl+xml;q=0.9, */*;q=0.1",
	MaxSize: wsdl.MaxDocumentSize,
	CheckURL: func(rawURL string, conn *engine.Connection) error {
		return wsdl.CheckFetchURL(rawURL, conn.Name, conn.Host, conn.Scheme, conn.Port)
	},
	CacheName: wsdl.CacheName,
	MetaName:  wsdl.MetaName,
	Refuse: func(body []byte) string {
		if !doccache.StartsLikeMarkup(body) {
			return "is not XML"
		}
		return ""
	},
}

// ListWSDLCache lists the documents in a WSDL cache folder.
func ListWSDLCache(dir string) ([]doccache.Cached, error) { return doccache.List(dir, WSDLDocuments) }
