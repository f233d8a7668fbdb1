package wsdl

import (
	"strings"
	"testing"
)

// A file: import is refused in its own words, whatever the importing
// document's location, and the resolver never sees it.
func TestFileImportsAreNotRead(t *testing.T) {
	for _, base := range []string{"wsdl/service.wsdl", "https://partner.example/ws/service?wsdl", ""} {
		for _, loc := range []string{"file:///etc/hostname", "FILE:/etc/hostname", "file:types.xsd"} {
			doc := `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">
  <types><xs:schema targetNamespace="urn:x"><xs:import namespace="urn:t" schemaLocation="` + loc + `"/></xs:schema></types>
</definitions>`
			called := false
			_, err := ParseLocation(base, []byte(doc), func(string) ([]byte, error) { called = true; return nil, nil })
			if err == nil || !strings.Contains(err.Error(), "file: locations are not read") || called {
				t.Errorf("base %q, import %q: err = %v, resolver called %v", base, loc, err, called)
			}
		}
	}
}
