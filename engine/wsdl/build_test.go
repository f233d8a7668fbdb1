package wsdl

import (
	"crypto/sha1"
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"
)

const (
	env11 = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"`
	env12 = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope"`
)

// shipment is a body for CreateShipment given in no particular order: the
// request must come out in schema order anyway.
func shipment() map[string]any {
	return map[string]any{
		"Note":      []any{"fragile"},
		"Parcel":    []any{map[string]any{"Contents": "books", "WeightGrams": 1200}, map[string]any{"WeightGrams": 300.0}},
		"Express":   true,
		"To":        map[string]any{"Country": "NL", "Street": []any{"Main 1", "2nd floor"}, "Name": "Ada & Co <B.V.>"},
		"Reference": "R-1",
		"@priority": uint64(2),
	}
}

func TestBuildRequest(t *testing.T) {
	tests := []struct {
		name, file, port, op string
		body                 any
		headers              []Header
		wantEnvelope         string
		wantType, wantAction string
		wantEndpoint         string
	}{
		{
			name: "document/literal wrapped, SOAP 1.1, header block", file: ordersWSDL, op: "GetOrderStatus",
			body:    map[string]any{"IncludeLines": false, "OrderId": "42"},
			headers: []Header{{Name: "Trace", Value: map[string]any{"CorrelationId": "c-1"}}},
			wantEnvelope: env11 + ` xmlns:ns1="urn:outflow:orders:v1"><soapenv:Header><ns1:Trace><ns1:CorrelationId>c-1</ns1:CorrelationId></ns1:Trace></soapenv:Header>` +
				`<soapenv:Body><ns1:GetOrderStatus><ns1:OrderId>42</ns1:OrderId><ns1:IncludeLines>false</ns1:IncludeLines></ns1:GetOrderStatus></soapenv:Body></soapenv:Envelope>`,
			wantType: "text/xml; charset=utf-8", wantAction: "urn:outflow:orders:v1/GetOrderStatus", wantEndpoint: "http://localhost:8080/soap/orders",
		},
		{
			name: "same operation on the SOAP 1.2 port, optional field left out", file: ordersWSDL, port: "OrdersSoap12Port", op: "GetOrderStatus",
			body:         map[string]any{"OrderId": 42.0},
			wantEnvelope: env12 + ` xmlns:ns1="urn:outflow:orders:v1"><soapenv:Body><ns1:GetOrderStatus><ns1:OrderId>42</ns1:OrderId></ns1:GetOrderStatus></soapenv:Body></soapenv:Envelope>`,
			wantType:     `application/soap+xml; charset=utf-8; action="urn:outflow:orders:v1/GetOrderStatus"`, wantAction: "urn:outflow:orders:v1/GetOrderStatus", wantEndpoint: "http://localhost:8080/soap/orders",
		},
		{
			name: "schema order, qualified and unqualified locals, extension, group, attribute", file: "testdata/imports/service.wsdl", op: "CreateShipment",
			body: shipment(),
			wantEnvelope: env12 + ` xmlns:ns1="urn:outflow:test:shipping:types"><soapenv:Body><ns1:CreateShipment priority="2"><ns1:Reference>R-1</ns1:Reference>` +
				`<To><Name>Ada &amp; Co &lt;B.V.&gt;</Name><Street>Main 1</Street><Street>2nd floor</Street><Country>NL</Country></To>` +
				`<Parcel><WeightGrams>1200</WeightGrams><Contents>books</Contents></Parcel><Parcel><WeightGrams>300</WeightGrams></Parcel>` +
				`<Express>true</Express><Note>fragile</Note></ns1:CreateShipment></soapenv:Body></soapenv:Envelope>`,
			wantType: `application/soap+xml; charset=utf-8; action="urn:outflow:test:shipping:CreateShipment"`, wantAction: "urn:outflow:test:shipping:CreateShipment",
			wantEndpoint: "https://shipping.partner.example/ws/shipping?tenant=7",
		},
		{
			name: "rpc/literal: wrapper in the binding namespace, unqualified parts", file: "testdata/cxf/soapbody_rpc.wsdl", op: "sayHello1",
			body:         map[string]any{"in3": "a b", "in1": "hi", "in2": 5},
			wantEnvelope: env11 + ` xmlns:ns1="http://apache.org/body_test/rpc"><soapenv:Body><ns1:sayHello1><in1>hi</in1><in2>5</in2><in3>a b</in3></ns1:sayHello1></soapenv:Body></soapenv:Envelope>`,
			wantType:     "text/xml; charset=utf-8", wantAction: "sayHello", wantEndpoint: "http://localhost:9105/SoapBodyRPCContext/SoapBodyRPCPort",
		},
		{
			name: "bare element of a simple type takes a scalar body", file: "testdata/spring-ws-airline/airline.wsdl", op: "GetFrequentFlyerMileage",
			body:         "john",
			wantEnvelope: env11 + ` xmlns:ns1="http://www.springframework.org/spring-ws/samples/airline/schemas/messages"><soapenv:Body><ns1:GetFrequentFlyerMileageRequest>john</ns1:GetFrequentFlyerMileageRequest></soapenv:Body></soapenv:Envelope>`,
			wantType:     "text/xml; charset=utf-8", wantEndpoint: "http://localhost:8080/airline-server/services",
		},
		{
			name: "repeated choice, elements from two schemas", file: "testdata/spring-ws-airline/airline.wsdl", op: "BookFlight",
			body: map[string]any{
				"passengers":    map[string]any{"username": []any{"ada"}, "passenger": []any{map[string]any{"last": "Lovelace", "first": "Ada"}, map[string]any{"first": "Alan", "last": "Turing"}}},
				"departureTime": "2026-03-01T10:00:00Z", "flightNumber": "KL1234",
			},
			wantEnvelope: env11 + ` xmlns:ns1="http://www.springframework.org/spring-ws/samples/airline/schemas/messages" xmlns:ns2="http://www.springframework.org/spring-ws/samples/airline/schemas/types">` +
				`<soapenv:Body><ns1:BookFlightRequest><ns1:flightNumber>KL1234</ns1:flightNumber><ns1:departureTime>2026-03-01T10:00:00Z</ns1:departureTime><ns1:passengers>` +
				`<ns1:passenger><ns2:first>Ada</ns2:first><ns2:last>Lovelace</ns2:last></ns1:passenger><ns1:passenger><ns2:first>Alan</ns2:first><ns2:last>Turing</ns2:last></ns1:passenger>` +
				`<ns1:username>ada</ns1:username></ns1:passengers></ns1:BookFlightRequest></soapenv:Body></soapenv:Envelope>`,
			wantType: "text/xml; charset=utf-8", wantEndpoint: "http://localhost:8080/airline-server/services",
		},
		{
			name: "operation without arguments", file: "testdata/countryinfo-include/CountryInfoService.wsdl", op: "ListOfContinentsByName",
			wantEnvelope: env11 + ` xmlns:ns1="http://www.oorsprong.org/websamples.countryinfo"><soapenv:Body><ns1:ListOfContinentsByName></ns1:ListOfContinentsByName></soapenv:Body></soapenv:Envelope>`,
			wantType:     "text/xml; charset=utf-8", wantEndpoint: "http://webservices.oorsprong.org/websamples.countryinfo/CountryInfoService.wso",
		},
		{
			name: "undeclared header block by namespace, nil optional, nillable nil", file: ordersWSDL, op: "GetOrderStatus",
			body:    map[string]any{"OrderId": "7", "IncludeLines": nil},
			headers: []Header{{Name: "{urn:partner:auth}Session", Value: map[string]any{"Id": "s-1", "@kind": "short"}}},
			wantEnvelope: env11 + ` xmlns:ns1="urn:partner:auth" xmlns:ns2="urn:outflow:orders:v1"><soapenv:Header><ns1:Session kind="short"><ns1:Id>s-1</ns1:Id></ns1:Session></soapenv:Header>` +
				`<soapenv:Body><ns2:GetOrderStatus><ns2:OrderId>7</ns2:OrderId></ns2:GetOrderStatus></soapenv:Body></soapenv:Envelope>`,
			wantType: "text/xml; charset=utf-8", wantAction: "urn:outflow:orders:v1/GetOrderStatus", wantEndpoint: "http://localhost:8080/soap/orders",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := load(t, tt.file)
			env, ct, action, endpoint, err := BuildRequest(d, "", tt.port, tt.op, tt.body, tt.headers, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(env) != tt.wantEnvelope {
				t.Errorf("envelope\n got %s\nwant %s", env, tt.wantEnvelope)
			}
			if ct != tt.wantType || action != tt.wantAction || endpoint != tt.wantEndpoint {
				t.Errorf("content type %q, action %q, endpoint %q", ct, action, endpoint)
			}
		})
	}
}

func TestBuildRequestErrors(t *testing.T) {
	orders := map[string]any{"OrderId": "1"}
	with := func(k string, v any) map[string]any {
		m := shipment()
		m[k] = v
		return m
	}
	without := func(k string) map[string]any {
		m := shipment()
		delete(m, k)
		return m
	}
	tests := []struct {
		name, file, op string
		body           any
		headers        []Header
		want           string
	}{
		{"unknown fields list the allowed ones", ordersWSDL, "GetOrderStatus", map[string]any{"OrderId": "1", "Foo": 1, "Bar": 2},
			nil, `building the GetOrderStatus request: GetOrderStatus: unknown fields "Bar", "Foo" (allowed: OrderId, IncludeLines)`},
		{"unknown nested field", "testdata/imports/service.wsdl", "CreateShipment", with("To", map[string]any{"Name": "x", "Zip": "1"}),
			nil, `CreateShipment.To: unknown field "Zip" (allowed: Name, Street, Country)`},
		{"a list where one value is allowed", ordersWSDL, "GetOrderStatus", map[string]any{"OrderId": []any{"1", "2"}},
			nil, "GetOrderStatus.OrderId: 2 values given, but the schema allows one"},
		{"more than maxOccurs", "testdata/imports/service.wsdl", "CreateShipment", with("Note", []any{"a", "b", "c", "d"}),
			nil, "CreateShipment.Note: 4 values given, but the schema allows at most 3"},
		{"both branches of a choice", "testdata/imports/service.wsdl", "CreateShipment", with("DeliverBy", "2026-01-01"),
			nil, "CreateShipment: Express and DeliverBy are alternatives (xs:choice); give only one"},
		{"a string for a complex element", "testdata/imports/service.wsdl", "CreateShipment", with("To", "Main 1"),
			nil, "CreateShipment.To: expects fields (Name, Street, Country), got a string"},
		{"fields for a simple element", "testdata/imports/service.wsdl", "CreateShipment", with("Reference", map[string]any{"a": 1}),
			nil, "CreateShipment.Reference: expects a value, got fields"},
		{"a list item of the wrong shape", "testdata/imports/service.wsdl", "CreateShipment", with("Parcel", []any{map[string]any{"WeightGrams": 1}, "heavy"}),
			nil, "CreateShipment.Parcel[1]: expects fields (WeightGrams, Contents), got a string"},
		{"not a number", "testdata/imports/service.wsdl", "CreateShipment", with("@priority", math.NaN()),
			nil, "CreateShipment.@priority: NaN is not a number XML Schema can carry"},
		{"undeclared header", ordersWSDL, "GetOrderStatus", orders,
			[]Header{{Name: "Auth", Value: "x"}}, `header "Auth" is not declared by the operation (declared: Trace); name an undeclared block as {namespace}Auth`},
		{"header of the wrong shape", ordersWSDL, "GetOrderStatus", orders,
			[]Header{{Name: "Trace", Value: map[string]any{"Correlation": "x"}}}, `Trace: unknown field "Correlation" (allowed: CorrelationId)`},
		{"unknown rpc part", "testdata/cxf/soapbody_rpc.wsdl", "sayHello", map[string]any{"in1": "a", "in4": "b"},
			nil, `the body: unknown field "in4" (allowed: in1, in2, in3)`},
		{"rpc body that is not a map", "testdata/cxf/soapbody_rpc.wsdl", "sayHello", "hello",
			nil, "the body: expects fields (in1, in2, in3), got a string"},
		{"unknown operation", ordersWSDL, "GetOrder", orders,
			nil, `has no operation "GetOrder" (operations: GetOrderStatus)`},
		{"a wildcard key that is not a name", "testdata/imports/service.wsdl", "CreateShipment", without("Express"),
			[]Header{{Name: "{urn:x}H", Value: map[string]any{"a b": 1}}}, `{urn:x}H: "a b" is not a valid element name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := load(t, tt.file)
			_, _, _, _, err := BuildRequest(d, "", "", tt.op, tt.body, tt.headers, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}

func TestUsernameToken(t *testing.T) {
	d := load(t, ordersWSDL)
	body := map[string]any{"OrderId": "42"}
	created := time.Date(2026, 5, 4, 3, 2, 1, 0, time.FixedZone("CEST", 2*3600))
	nonce := []byte("0123456789abcdef")

	t.Run("text", func(t *testing.T) {
		env, _, _, _, err := BuildRequest(d, "", "", "GetOrderStatus", body, nil, &UsernameToken{Username: "svc<&>", Password: `p&ss"<w>`})
		if err != nil {
			t.Fatal(err)
		}
		want := `<soapenv:Header><wsse:Security xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `" soapenv:mustUnderstand="1"><wsse:UsernameToken>` +
			`<wsse:Username>svc&lt;&amp;&gt;</wsse:Username><wsse:Password Type="` + passwordTextType + `">p&amp;ss&#34;&lt;w&gt;</wsse:Password>` +
			`</wsse:UsernameToken></wsse:Security></soapenv:Header>`
		if !strings.Contains(string(env), want) {
			t.Fatalf("envelope %s", env)
		}
		red := string(RedactEnvelope(env))
		if strings.Contains(red, "p&amp;ss") || !strings.Contains(red, `#PasswordText">[redacted]</wsse:Password>`) {
			t.Fatalf("redacted: %s", red)
		}
	})
	t.Run("digest", func(t *testing.T) {
		env, _, _, _, err := BuildRequest(d, "", "", "GetOrderStatus", body, nil, &UsernameToken{Username: "svc", Password: "secret", Digest: true, Nonce: nonce, Created: created})
		if err != nil {
			t.Fatal(err)
		}
		// The profile: Base64(SHA-1(nonce bytes + created text + password)),
		// created in UTC.
		h := sha1.Sum([]byte("0123456789abcdef" + "2026-05-04T01:02:01.000Z" + "secret"))
		digest := base64.StdEncoding.EncodeToString(h[:])
		want := `<wsse:Password Type="` + passwordDigestTyp + `">` + digest + `</wsse:Password><wsse:Nonce EncodingType="` + nonceEncoding + `">MDEyMzQ1Njc4OWFiY2RlZg==</wsse:Nonce>` +
			`<wsu:Created>2026-05-04T01:02:01.000Z</wsu:Created>`
		if !strings.Contains(string(env), want) {
			t.Fatalf("envelope %s\nwant %s", env, want)
		}
		if strings.Contains(string(env), "secret") {
			t.Fatal("the password itself is in a digest envelope")
		}
		red := string(RedactEnvelope(env))
		if strings.Contains(red, digest) || !strings.Contains(red, "<wsu:Created>") {
			t.Fatalf("redacted: %s", red)
		}
	})
	t.Run("fresh nonce and time by default", func(t *testing.T) {
		a, _, _, _, err := BuildRequest(d, "", "", "GetOrderStatus", body, nil, &UsernameToken{Username: "svc", Password: "secret", Digest: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, _, _ := BuildRequest(d, "", "", "GetOrderStatus", body, nil, &UsernameToken{Username: "svc", Password: "secret", Digest: true})
		if string(a) == string(b) {
			t.Fatal("two requests share a nonce")
		}
	})
	t.Run("no username", func(t *testing.T) {
		if _, _, _, _, err := BuildRequest(d, "", "", "GetOrderStatus", body, nil, &UsernameToken{Password: "x"}); err == nil || !strings.Contains(err.Error(), "no username") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestValidateBody(t *testing.T) {
	d := load(t, ordersWSDL)
	if err := ValidateBody(d, "", "", "GetOrderStatus", map[string]any{"OrderId": "${{ inputs.id }}"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ValidateBody(d, "", "", "GetOrderStatus", map[string]any{"Order": "1"}, nil); err == nil {
		t.Fatal("unknown field accepted")
	}
}
