package soap

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
)

// FuzzWSDLCache fuzzes the WSDL cache of a project (.outflow/wsdl): its
// metadata files, whatever they hold, list without a panic, each entry
// pointing at its document inside the folder, or fail naming the file;
// and a document kept for a URL lists with that URL, connection and size,
// and is read back byte for byte, without the network, by the next Fetch.
func FuzzWSDLCache(f *testing.F) {
	orders, err := os.ReadFile("soaptest/orders.wsdl")
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
		list, err := ListWSDLCache(dir)
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
		fetcher := &WSDLFetcher{Dir: dir}
		if err := fetcher.store(conn, rawURL, doc); err != nil {
			t.Fatal(err)
		}
		list, err = ListWSDLCache(dir)
		if err != nil || len(list) != 1 {
			t.Fatalf("listing a stored document: %+v, %v", list, err)
		}
		c := list[0]
		if c.URL != rawURL || c.Connection != connName || c.Size != len(doc) || c.FetchedAt.IsZero() || c.File != fetcher.file(rawURL) {
			t.Fatalf("stored %q via %q (%d bytes), listed %+v", rawURL, connName, len(doc), c)
		}
		// The next process reads it from the cache: no transport is set, so
		// a request would fail.
		got, err := (&WSDLFetcher{Dir: dir}).Fetch(context.Background(), conn, nil, rawURL)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("read back %d bytes, %v; stored %d", len(got), err, len(doc))
		}
	})
}

// latin1Partner is a server that answers every request with raw bytes, a
// status line in Latin-1 as some legacy servers write it: net/http's
// server cannot write such a line, so it is written on the socket.
func latin1Partner(t *testing.T, answer string) *engine.Connection {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
					_, _ = io.WriteString(c, answer)
				}
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return &engine.Connection{Name: "partner-soap", Scheme: "http", Host: "127.0.0.1", Port: port}
}

// TestLatin1StatusFailureReachesTemporal: a partner whose status line is
// Latin-1 ("200 Gel\xe4ufig") and whose body is no envelope failed the
// step with a message that is not UTF-8, which the worker cannot send to
// Temporal (a Failure's message is a protobuf string): the step's failure
// was lost and the activity timed out instead.
func TestLatin1StatusFailureReachesTemporal(t *testing.T) {
	conn := latin1Partner(t, "HTTP/1.1 200 Gel\xe4ufig\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html>x</html")
	_, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
	appErr, _ := appError(t, err)
	if !strings.Contains(appErr.Error(), "not with a SOAP envelope") {
		t.Fatalf("err = %v", err)
	}
	if _, merr := proto.Marshal(temporal.GetDefaultFailureConverter().ErrorToFailure(err)); merr != nil {
		t.Fatalf("the failure cannot be sent to Temporal (%v): %q", merr, err.Error())
	}
}
