package doccache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
)

// wsdlKind names cached documents as the SOAP steps' WSDL cache does; the
// fetches below never reach the network.
var wsdlKind = Kind{Noun: "WSDL", CacheName: wsdl.CacheName, MetaName: wsdl.MetaName}

// FuzzCache fuzzes a project's document cache (here .outflow/wsdl): its
// metadata files, whatever they hold, list without a panic, each entry
// pointing at its document inside the folder, or fail naming the file;
// and a document kept for a URL lists with that URL, connection and size,
// and is read back byte for byte, without the network, by the next Fetch.
func FuzzCache(f *testing.F) {
	orders, err := os.ReadFile("../soap/soaptest/orders.wsdl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"url":"https://api.partner.example/orders?wsdl","connection":"partner-soap","fetched_at":"2026-01-02T03:04:05.123456789Z","size":4096}`),
		"https://api.partner.example/orders?wsdl", "partner-soap", orders)
	f.Add([]byte(`{"url":"https://x/y.xsd","connection":"c","fetched_at":"not a time","size":-1}`), "https://x/y.xsd", "c", []byte(`<xs:schema/>`))
	f.Add([]byte(`{"size":1e99}`), "http://127.0.0.1:8080/ws?WSDL&x=ü", "", []byte{})
	f.Add([]byte(`[]`), "https://api.partner.example/a/../b", "p", []byte("\ufeff<?xml version=\"1.0\"?><definitions/>"))
	f.Add([]byte(``), "", "p", []byte(nil))
	dir := filepath.Join(f.TempDir(), ".outflow", "wsdl")
	f.Fuzz(func(t *testing.T, meta []byte, rawURL, connName string, doc []byte) {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(wsdl.CacheName(rawURL), ".xml")
		if err := os.WriteFile(filepath.Join(dir, name+".json"), meta, 0o644); err != nil {
			t.Fatal(err)
		}
		list, err := List(dir, wsdlKind)
		switch {
		case err != nil && !strings.Contains(err.Error(), name+".json"):
			t.Fatalf("the error does not name the file: %v", err)
		case err == nil && (len(list) != 1 || list[0].File != filepath.Join(dir, name+".xml")):
			t.Fatalf("listed %+v", list)
		}

		if !utf8.ValidString(rawURL) || !utf8.ValidString(connName) {
			return // URLs and connection names are text of YAML files
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		conn := &engine.Connection{Name: connName}
		fetcher := &Fetcher{Kind: wsdlKind, Dir: dir}
		if err := fetcher.store(conn, rawURL, doc, "text/xml"); err != nil {
			t.Fatal(err)
		}
		list, err = List(dir, wsdlKind)
		if err != nil || len(list) != 1 {
			t.Fatalf("listing a stored document: %+v, %v", list, err)
		}
		c := list[0]
		if c.URL != rawURL || c.Connection != connName || c.Size != len(doc) || c.FetchedAt.IsZero() || c.File != filepath.Join(dir, wsdl.CacheName(rawURL)) {
			t.Fatalf("stored %q via %q (%d bytes), listed %+v", rawURL, connName, len(doc), c)
		}
		// The next process reads it from the cache: no transport is set, so
		// a request would fail.
		got, err := (&Fetcher{Kind: wsdlKind, Dir: dir}).Fetch(context.Background(), conn, nil, rawURL)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("read back %d bytes, %v; stored %d", len(got), err, len(doc))
		}
	})
}
