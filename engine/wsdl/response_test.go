package wsdl

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const ordersResponse = `<S:Envelope xmlns:S="%ENV%"><S:Body>` +
	`<GetOrderStatusResponse xmlns="urn:outflow:orders:v1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
	`<OrderId>7</OrderId><Status>Received</Status><CustomerId>C-9</CustomerId>` +
	`<Line><Sku>C-3</Sku><Quantity>5</Quantity><Description xsi:nil="true"/></Line>` +
	`<Total currency="EUR">10.50</Total><ShippedAt xsi:nil="true"/>` +
	`</GetOrderStatusResponse></S:Body></S:Envelope>`

func TestParseResponse(t *testing.T) {
	d := load(t, ordersWSDL)
	_, _, op11, _ := d.Lookup("", "OrdersSoap11Port", "GetOrderStatus")
	_, _, op12, _ := d.Lookup("", "OrdersSoap12Port", "GetOrderStatus")
	typed := map[string]any{"GetOrderStatusResponse": map[string]any{
		"OrderId": "7", "Status": "Received", "CustomerId": "C-9",
		"Line":  []any{map[string]any{"Sku": "C-3", "Quantity": int64(5), "Description": nil}},
		"Total": map[string]any{"@currency": "EUR", "#text": "10.50"}, "ShippedAt": nil,
	}}
	tests := []struct {
		name    string
		data    string
		op      *Operation
		defs    *Definitions
		version string
		want    map[string]any
	}{
		{"SOAP 1.1 with the schema: a single Line is a list, numbers typed", strings.ReplaceAll(ordersResponse, "%ENV%", soap11EnvNS), op11, d, SOAP11, typed},
		{"SOAP 1.2", strings.ReplaceAll(ordersResponse, "%ENV%", soap12EnvNS), op12, d, SOAP12, typed},
		{"without the schema: text stays text, one Line is one map", strings.ReplaceAll(ordersResponse, "%ENV%", soap11EnvNS), nil, nil, SOAP11,
			map[string]any{"GetOrderStatusResponse": map[string]any{
				"OrderId": "7", "Status": "Received", "CustomerId": "C-9",
				"Line":  map[string]any{"Sku": "C-3", "Quantity": "5", "Description": nil},
				"Total": map[string]any{"@currency": "EUR", "#text": "10.50"}, "ShippedAt": nil,
			}}},
		{"repeats become lists even without the schema", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body><r><a>1</a><b/><a>2</a><a>3</a></r></e:Body></e:Envelope>`, nil, nil, SOAP11,
			map[string]any{"r": map[string]any{"a": []any{"1", "2", "3"}, "b": ""}}},
		{"empty complex element reads as a map", `<e:Envelope xmlns:e="` + soap12EnvNS + `"><e:Body><x:pingMeResponse xmlns:x="http://apache.org/hello_world_soap12_http/types"/></e:Body></e:Envelope>`,
			nil, load(t, "testdata/cxf/hello_world_soap12.wsdl"), SOAP12, map[string]any{"pingMeResponse": map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseResponse([]byte(tt.data), tt.op, tt.defs)
			if err != nil {
				t.Fatal(err)
			}
			if res.SOAPVersion != tt.version || !reflect.DeepEqual(res.Body, tt.want) {
				t.Fatalf("version %s body\n got %#v\nwant %#v", res.SOAPVersion, res.Body, tt.want)
			}
		})
	}
}

func TestParseResponseTypes(t *testing.T) {
	d := load(t, "testdata/cxf/soapbody_rpc.wsdl")
	_, _, op, _ := d.Lookup("", "", "sayHello")
	data := `<soap:Envelope xmlns:soap="` + soap11EnvNS + `"><soap:Header><h:Session xmlns:h="urn:h">s-1</h:Session></soap:Header>` +
		`<soap:Body><ns:sayHelloResponse xmlns:ns="http://apache.org/body_test/rpc"><out>hello</out></ns:sayHelloResponse></soap:Body></soap:Envelope>`
	res, err := ParseResponse([]byte(data), op, d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Body, map[string]any{"sayHelloResponse": map[string]any{"out": "hello"}}) || res.Header["Session"] != "s-1" {
		t.Fatalf("rpc response: %#v header %#v", res.Body, res.Header)
	}
	for _, tt := range []struct {
		text, builtin string
		want          any
	}{
		{"true", "boolean", true}, {" 0 ", "boolean", false}, {"yes", "boolean", "yes"},
		{"-12", "int", int64(-12)}, {"9007199254740993", "long", "9007199254740993"}, {"1e3", "integer", "1e3"},
		{"2.5", "double", 2.5}, {"INF", "double", "INF"}, {"NaN", "float", "NaN"},
		{"10.10", "decimal", "10.10"}, {"x", "string", "x"},
	} {
		if got := typed(tt.text, tt.builtin); got != tt.want {
			t.Errorf("typed(%q, %s) = %#v, want %#v", tt.text, tt.builtin, got, tt.want)
		}
	}
}

func TestFaults(t *testing.T) {
	d := load(t, ordersWSDL)
	tests := []struct {
		name   string
		data   string
		want   Fault
		client bool
	}{
		{"SOAP 1.1 Client with a typed detail", `<soap:Envelope xmlns:soap="` + soap11EnvNS + `" xmlns:o="urn:outflow:orders:v1"><soap:Body><soap:Fault>` +
			`<faultcode>soap:Client</faultcode><faultstring>Order 99 not found</faultstring><faultactor>urn:orders</faultactor>` +
			`<detail><o:OrderFault><o:OrderId>99</o:OrderId><o:Reason>no such order</o:Reason></o:OrderFault></detail></soap:Fault></soap:Body></soap:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "Client", CodeNamespace: soap11EnvNS, String: "Order 99 not found", Actor: "urn:orders",
				Detail: map[string]any{"OrderFault": map[string]any{"OrderId": "99", "Reason": "no such order"}}}, true},
		{"SOAP 1.1 Server", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body><e:Fault><faultcode>e:Server</faultcode><faultstring>busy</faultstring></e:Fault></e:Body></e:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "Server", CodeNamespace: soap11EnvNS, String: "busy"}, false},
		{"SOAP 1.1 dotted code, qualified children", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body><e:Fault><e:faultcode>e:Client.Authentication</e:faultcode><e:faultstring>no</e:faultstring></e:Fault></e:Body></e:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "Client.Authentication", CodeNamespace: soap11EnvNS, String: "no"}, true},
		{"WS-Security code in faultcode", `<e:Envelope xmlns:e="` + soap11EnvNS + `" xmlns:wsse="` + wsseNS + `"><e:Body><e:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>bad password</faultstring></e:Fault></e:Body></e:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "FailedAuthentication", CodeNamespace: wsseNS, String: "bad password"}, true},
		{"expired WS-Security message is worth a retry", `<e:Envelope xmlns:e="` + soap11EnvNS + `" xmlns:wsse="` + wsseNS + `"><e:Body><e:Fault><faultcode>wsse:MessageExpired</faultcode><faultstring>too old</faultstring></e:Fault></e:Body></e:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "MessageExpired", CodeNamespace: wsseNS, String: "too old"}, false},
		{"application code", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body><e:Fault><faultcode xmlns:a="urn:app">a:Locked</faultcode><faultstring>locked</faultstring></e:Fault></e:Body></e:Envelope>`,
			Fault{SOAPVersion: SOAP11, Code: "Locked", CodeNamespace: "urn:app", String: "locked"}, false},
		{"SOAP 1.2 Sender with subcodes and languages", `<env:Envelope xmlns:env="` + soap12EnvNS + `" xmlns:o="urn:outflow:orders:v1"><env:Body><env:Fault>` +
			`<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>o:UnknownOrder</env:Value><env:Subcode><env:Value>o:Archived</env:Value></env:Subcode></env:Subcode></env:Code>` +
			`<env:Reason><env:Text xml:lang="de">Auftrag fehlt</env:Text><env:Text xml:lang="en-GB">Order missing</env:Text></env:Reason>` +
			`<env:Node>urn:node</env:Node><env:Role>urn:role</env:Role><env:Detail><o:OrderFault><o:OrderId>9</o:OrderId><o:Reason>gone</o:Reason></o:OrderFault></env:Detail></env:Fault></env:Body></env:Envelope>`,
			Fault{SOAPVersion: SOAP12, Code: "Sender", CodeNamespace: soap12EnvNS, Subcodes: []string{"UnknownOrder", "Archived"}, String: "Order missing", Node: "urn:node", Actor: "urn:role",
				Detail: map[string]any{"OrderFault": map[string]any{"OrderId": "9", "Reason": "gone"}}}, true},
		{"SOAP 1.2 Receiver", `<env:Envelope xmlns:env="` + soap12EnvNS + `"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="fr">occupé</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
			Fault{SOAPVersion: SOAP12, Code: "Receiver", CodeNamespace: soap12EnvNS, String: "occupé"}, false},
		{"SOAP 1.2 MustUnderstand", `<env:Envelope xmlns:env="` + soap12EnvNS + `"><env:Body><env:Fault><env:Code><env:Value>env:MustUnderstand</env:Value></env:Code><env:Reason><env:Text>header not understood</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
			Fault{SOAPVersion: SOAP12, Code: "MustUnderstand", CodeNamespace: soap12EnvNS, String: "header not understood"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseResponse([]byte(tt.data), nil, d)
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("err = %v, want a *Fault", err)
			}
			if res == nil || res.Fault != f {
				t.Fatal("the response does not carry the fault")
			}
			if !reflect.DeepEqual(*f, tt.want) {
				t.Fatalf("fault\n got %#v\nwant %#v", *f, tt.want)
			}
			if f.IsClient() != tt.client {
				t.Fatalf("IsClient = %v", f.IsClient())
			}
		})
	}
	f := &Fault{Code: "Sender", Subcodes: []string{"UnknownOrder"}, String: "Order 9 not found"}
	if f.Error() != "soap fault Sender/UnknownOrder: Order 9 not found" {
		t.Fatalf("Error() = %q", f.Error())
	}
}

func TestParseResponseRefuses(t *testing.T) {
	deep := strings.Repeat("<a>", MaxDepth+5) + strings.Repeat("</a>", MaxDepth+5)
	tests := []struct {
		name, data, want string
	}{
		{"entity expansion", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`, "a DOCTYPE is not accepted"},
		{"external entity", `<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body>&xxe;</e:Body></e:Envelope>`, "a DOCTYPE is not accepted"},
		{"nesting", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body>` + deep + `</e:Body></e:Envelope>`, "nest deeper than 256"},
		{"HTML error page", `<html><body>502 Bad Gateway</body></html>`, "not a SOAP envelope: its root element is <html>"},
		{"no body", `<e:Envelope xmlns:e="` + soap11EnvNS + `"/>`, "no Body"},
		{"truncated", `<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body><x>`, "reading XML"},
		{"empty", ``, "no root element"},
		{"unknown charset", `<?xml version="1.0" encoding="EBCDIC-CP-US"?><a/>`, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResponse([]byte(tt.data), nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("latin-1 is read", func(t *testing.T) {
		data := append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><e:Envelope xmlns:e="`+soap11EnvNS+`"><e:Body><r>M`), 0xFC)
		data = append(data, []byte(`nchen</r></e:Body></e:Envelope>`)...)
		res, err := ParseResponse(data, nil, nil)
		if err != nil || res.Body["r"] != "München" {
			t.Fatalf("res %v err %v", res, err)
		}
	})
}

// FuzzParseResponse feeds arbitrary bytes to the response reader: it must
// not panic, and what it returns must be JSON, because it goes into step
// results and workflow history.
func FuzzParseResponse(f *testing.F) {
	d, err := Load(ordersWSDL)
	if err != nil {
		f.Fatal(err)
	}
	_, _, op, _ := d.Lookup("", "", "GetOrderStatus")
	for _, seed := range []string{
		strings.ReplaceAll(ordersResponse, "%ENV%", soap11EnvNS),
		strings.ReplaceAll(ordersResponse, "%ENV%", soap12EnvNS),
		`<soap:Envelope xmlns:soap="` + soap11EnvNS + `"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring><detail><a>1</a><a>2</a></detail></soap:Fault></soap:Body></soap:Envelope>`,
		`<env:Envelope xmlns:env="` + soap12EnvNS + `"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>q:x</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">r</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
		`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`,
		`<e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Header><h a="1">t<i/>u</h></e:Header><e:Body><r xsi:nil="1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></e:Body></e:Envelope>`,
		`<?xml version="1.0" encoding="latin1"?><e:Envelope xmlns:e="` + soap11EnvNS + `"><e:Body/></e:Envelope>`,
		``, `<`, `<a xmlns:p="">`, "<a>\x00</a>",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []*Operation{op, nil} {
			res, err := ParseResponse(data, o, d)
			if err != nil {
				var fault *Fault
				if errors.As(err, &fault) && (res == nil || res.Fault != fault) {
					t.Fatal("a fault error without the response that carries it")
				}
				if res == nil {
					continue
				}
			}
			if _, err := json.Marshal(res); err != nil {
				t.Fatalf("result is not JSON: %v", err)
			}
		}
	})
}
