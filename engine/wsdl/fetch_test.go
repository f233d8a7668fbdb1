package wsdl

import (
	"strings"
	"testing"
)

func TestCheckFetchURL(t *testing.T) {
	for _, tc := range []struct {
		url, host, scheme string
		port              int
		want              string // "" means allowed
	}{
		{"https://api.example/ws?wsdl", "api.example", "https", 443, ""},
		{"https://api.example:443/ws?wsdl", "api.example", "https", 443, ""},
		{"https://API.example/ws?wsdl", "api.example", "https", 0, ""},
		{"https://api.example:8443/ws?wsdl", "api.example", "https", 8443, ""},
		{"http://api.example/ws?wsdl", "api.example", "http", 80, ""},
		{"http://api.example:80/ws?wsdl", "api.example", "http", 0, ""},
		{"https://anything.example/ws", "", "https", 443, ""},
		// Another port of the same host is another service.
		{"https://api.example:9443/ws?wsdl", "api.example", "https", 443, "is on port 9443 of api.example, but connection partner uses port 443"},
		{"https://api.example/ws?wsdl", "api.example", "https", 8443, "is on port 443 of api.example, but connection partner uses port 8443"},
		{"https://api.example:8443/ws?wsdl", "api.example", "https", 0, "uses port 443"},
		{"https://api.example/ws?wsdl", "api.example", "http", 80, "is on port 443"},
		{"https://other.example/ws", "api.example", "https", 443, "is on host other.example"},
		{"http://api.example/ws", "api.example", "https", 443, "plain http"},
		{"https://u:p@api.example/ws", "api.example", "https", 443, "user name or password"},
		{"https://api.example/ws#x", "api.example", "https", 443, "#fragment"},
		{"ftp://api.example/ws", "api.example", "https", 443, "not an http or https URL"},
	} {
		err := CheckFetchURL(tc.url, "partner", tc.host, tc.scheme, tc.port)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s for %s://%s:%d: %v, want it allowed", tc.url, tc.scheme, tc.host, tc.port, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s for %s://%s:%d: %v, want %q", tc.url, tc.scheme, tc.host, tc.port, err, tc.want)
		}
	}
}
