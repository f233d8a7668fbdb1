package soaptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOrders(t *testing.T) {
	const (
		env11 = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">`
		env12 = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">`
		call  = `<s:Body><o:GetOrderStatus xmlns:o="urn:outflow:orders:v1"><o:OrderId>%ID%</o:OrderId></o:GetOrderStatus></s:Body></s:Envelope>`
		text  = "text/xml; charset=utf-8"
		soap  = `application/soap+xml; charset=utf-8; action="urn:outflow:orders:v1/GetOrderStatus"`
	)
	quoted := `"` + SOAPAction + `"`
	tests := []struct {
		name                    string
		orders                  *Orders
		contentType, soapAction string
		body                    string
		status                  int
		want                    string
	}{
		{"SOAP 1.1 order", &Orders{}, text, quoted, env11 + strings.Replace(call, "%ID%", "42", 1), 200,
			`<Status>Shipped</Status><CustomerId>C-7</CustomerId><Line><Sku>A-1</Sku><Quantity>2</Quantity><Description>Widget</Description></Line>`},
		{"SOAP 1.2 order", &Orders{}, soap, "", env12 + strings.Replace(call, "%ID%", "7", 1), 200, `<Status>Received</Status>`},
		{"unknown order", &Orders{}, text, quoted, env11 + strings.Replace(call, "%ID%", "99", 1), 500,
			`<faultcode>soap:Client</faultcode><faultstring>Order 99 not found</faultstring>`},
		{"flaky order", &Orders{}, soap, "", env12 + strings.Replace(call, "%ID%", FlakyOrder, 1), 200, `<soap:Value>soap:Receiver</soap:Value>`},
		{"wrong SOAPAction", &Orders{}, text, `"urn:other"`, env11 + strings.Replace(call, "%ID%", "42", 1), 500, `unknown SOAPAction &#34;urn:other&#34;`},
		{"SOAP 1.2 envelope as text/xml", &Orders{}, text, quoted, env12 + strings.Replace(call, "%ID%", "42", 1), 500, "must be sent as application/soap+xml"},
		{"body in the wrong namespace", &Orders{}, text, quoted, env11 + `<s:Body><GetOrderStatus><OrderId>42</OrderId></GetOrderStatus></s:Body></s:Envelope>`, 500,
			"no GetOrderStatus element in namespace urn:outflow:orders:v1"},
		{"not XML", &Orders{}, text, quoted, "hello", 500, "the request is not XML"},
		{"token required", &Orders{Username: "u", Password: "p"}, text, quoted, env11 + strings.Replace(call, "%ID%", "42", 1), 500,
			"<faultcode>wsse:FailedAuthentication</faultcode><faultstring>a WS-Security UsernameToken is required"},
		{"custom orders", &Orders{Orders: map[string]Order{"1": {Status: "Packed", CustomerID: "C-1"}}}, text, quoted, env11 + strings.Replace(call, "%ID%", "1", 1), 200,
			`<Status>Packed</Status><CustomerId>C-1</CustomerId><ShippedAt xsi:nil="true"/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.orders)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/soap/orders", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.soapAction != "" {
				req.Header.Set("SOAPAction", tt.soapAction)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(data), tt.want) {
				t.Fatalf("HTTP %d\n%s\nwant %d with %s", resp.StatusCode, data, tt.status, tt.want)
			}
		})
	}
}

func TestWSDLAddress(t *testing.T) {
	if got := string(WSDL("https://127.0.0.1:8443/soap/orders")); strings.Count(got, `location="https://127.0.0.1:8443/soap/orders"`) != 2 {
		t.Fatal("addresses not rewritten")
	}
	srv := httptest.NewServer(&Orders{})
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET without ?wsdl: HTTP %d", resp.StatusCode)
	}
}
