package rest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

func TestFollowLink(t *testing.T) {
	conn := &engine.Connection{Name: "partner", Scheme: "https", Host: "api.partner.example", BasePath: "/v2"}
	connPort := &engine.Connection{Name: "partner", Scheme: "https", Host: "127.0.0.1", Port: 8443, BasePath: "/v2"}
	base := "https://api.partner.example/v2/orders?page=1&status=open"
	tests := []struct {
		conn       *engine.Connection
		base, link string
		want       string // the URL, or the start of the error
	}{
		{conn, base, "https://api.partner.example/v2/orders?page=2", "https://api.partner.example/v2/orders?page=2"},
		{conn, base, "https://API.partner.example:443/v2/orders?page=2#top", "https://api.partner.example/v2/orders?page=2"},
		{conn, base, "/v2/orders?page=2", "https://api.partner.example/v2/orders?page=2"},
		{conn, base, "?page=2&status=open", "https://api.partner.example/v2/orders?page=2&status=open"},
		{conn, base, "orders/archive?page=2", "https://api.partner.example/v2/orders/archive?page=2"},
		{conn, "", "/v2/orders?page=2", "https://api.partner.example/v2/orders?page=2"},
		{connPort, "https://127.0.0.1:8443/v2/orders", "https://127.0.0.1:8443/v2/orders?after=x", "https://127.0.0.1:8443/v2/orders?after=x"},
		{conn, base, "https://collector.example/v2/orders?page=2", `next link "https://collector.example/v2/orders?page=2" leaves connection "partner" (https://api.partner.example)`},
		{conn, base, "//collector.example/v2/orders", `next link "//collector.example/v2/orders" leaves connection`},
		{conn, base, "http://api.partner.example/v2/orders?page=2", `next link "http://api.partner.example/v2/orders?page=2" leaves connection`},
		{conn, base, "https://api.partner.example:8443/v2/orders", `next link "https://api.partner.example:8443/v2/orders" leaves connection`},
		{conn, base, "https://user:pw@api.partner.example/v2/orders", `next link "https://user:pw@api.partner.example/v2/orders" leaves connection`},
		{connPort, "https://127.0.0.1:8443/v2/orders", "https://127.0.0.1/v2/orders", `next link "https://127.0.0.1/v2/orders" leaves connection`},
		{conn, base, "/v1/orders?page=2", `next link "/v1/orders?page=2" leaves the base path "/v2"`},
		{conn, base, "/v2/../admin", `next link "/v2/../admin" leaves the base path "/v2"`},
		{conn, base, "%zz", `next link "%zz" is not a valid URL`},
	}
	for _, tt := range tests {
		u, err := FollowLink(tt.conn, nil, tt.base, tt.link)
		switch {
		case err != nil && !strings.HasPrefix(err.Error(), tt.want):
			t.Errorf("FollowLink(%q, %q): error %v, want %s", tt.base, tt.link, err, tt.want)
		case err == nil && u.String() != tt.want:
			t.Errorf("FollowLink(%q, %q) = %s, want %s", tt.base, tt.link, u, tt.want)
		}
	}
}

// A partner that echoes the api_key query parameter into its next link: the
// link is followed with the credential added as for any request, and the
// value reaches neither the request URL of the record nor its Link header.
func TestFollowLinkKeepsQueryCredentialOutOfRecord(t *testing.T) {
	var gotKeys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKeys = append(gotKeys, strings.Join(r.URL.Query()["key"], ","))
		w.Header().Set("Link", "<"+"http://"+r.Host+r.URL.Path+"?page=3&key="+r.URL.Query().Get("key")+`>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":[]}`)
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_KEY", "k3y-value")
	conn := connFor(t, srv, "/v2")
	conn.Credential = &engine.Credential{Type: "api_key", In: "query", Key: "key", Value: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_KEY"}}
	a := &Activity{Secrets: secrets.New("")}
	res, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Link: srv.URL + "/v2/orders?page=2&key=k3y-value"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gotKeys) != 1 || gotKeys[0] != "k3y-value" {
		t.Fatalf("partner got key %q, want the credential once", gotKeys)
	}
	if strings.Contains(res.Request.URL, "k3y") || res.Request.URL != srv.URL+"/v2/orders?page=2" {
		t.Errorf("request URL in the record: %s", res.Request.URL)
	}
	if link := res.Response.Headers["link"]; strings.Contains(link, "k3y") || !strings.Contains(link, "key=%5Bredacted%5D") {
		t.Errorf("Link header in the record: %s", link)
	}
}
