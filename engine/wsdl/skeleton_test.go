package wsdl

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSkeletonOfAWideDeepSchema(t *testing.T) {
	var types strings.Builder
	for level := 0; level < 14; level++ {
		fmt.Fprintf(&types, `<xs:complexType name="L%d"><xs:sequence>`, level)
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&types, `<xs:element name="f%d" type="t:L%d"/>`, i, level+1)
		}
		types.WriteString(`</xs:sequence></xs:complexType>`)
	}
	types.WriteString(`<xs:complexType name="L14"><xs:sequence><xs:element name="leaf" type="xs:string"/></xs:sequence></xs:complexType>`)
	doc := `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t" targetNamespace="urn:t">` +
		`<types><xs:schema targetNamespace="urn:t">` + types.String() + `<xs:element name="Req" type="t:L0"/></xs:schema></types>` +
		`<message name="In"><part name="p" element="t:Req"/></message><portType name="PT"><operation name="Op"><input message="t:In"/></operation></portType>` +
		`<binding name="B" type="t:PT"><soap:binding style="document"/><operation name="Op"><input><soap:body use="literal"/></input></operation></binding>` +
		`<service name="S"><port name="P" binding="t:B"><soap:address location="http://x/"/></port></service></definitions>`
	d, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sk, err := Skeleton(d, "Op")
	if err != nil {
		t.Fatal(err)
	}
	if len(sk) > maxSkeletonBytes+64<<10 || !strings.Contains(sk, "too large to show in full") || time.Since(start) > 5*time.Second {
		t.Fatalf("skeleton of %d bytes in %v", len(sk), time.Since(start))
	}
}

func TestSkeleton(t *testing.T) {
	tests := []struct {
		file, op, want string
	}{
		{ordersWSDL, "GetOrderStatus", `# GetOrderStatus: document/literal, SOAP 1.1, SOAPAction "urn:outflow:orders:v1/GetOrderStatus"
# port OrdersSoap11Port at http://localhost:8080/soap/orders
# Returns the status, customer and lines of an order.
# header block Trace may be given under headers
# body element {urn:outflow:orders:v1}GetOrderStatus
OrderId: "<string>"
IncludeLines: "<boolean>"  # optional
`},
		{"testdata/imports/service.wsdl", "CreateShipment", `# CreateShipment: document/literal, SOAP 1.2, SOAPAction "urn:outflow:test:shipping:CreateShipment"
# port ShippingPort at https://shipping.partner.example/ws/shipping?tenant=7
# body element {urn:outflow:test:shipping:types}CreateShipment
"@priority": "<int>"  # attribute, optional
Reference: "<string>"
To:
  Name: "<string>"
  Street:  # repeated (1..2)
    - "<string>"
  Country: "<string>"
Parcel:  # repeated (1..unbounded)
  - WeightGrams: "<int>"
    Contents: "<string>"  # optional
Express: "<boolean>"  # choice: keep one of Express | DeliverBy
DeliverBy: "<date>"  # choice: keep one of Express | DeliverBy
Note:  # optional, repeated (1..3)
  - "<string>"
`},
		{"testdata/cxf/soapbody_rpc.wsdl", "sayHello1", `# sayHello1: rpc/literal, SOAP 1.1, SOAPAction "sayHello"
# port SoapRPCBodyPort at http://localhost:9105/SoapBodyRPCContext/SoapBodyRPCPort
# rpc wrapper {http://apache.org/body_test/rpc}sayHello1
in1: "<string>"
in2: "<int>"
in3: "<string list, space separated>"
`},
		{"testdata/cxf/hello_world_soap12.wsdl", "sayHi", `# sayHi: document/literal, SOAP 1.2, SOAPAction "sayHiAction"
# port SoapPort at http://localhost:9012/SoapContext/SoapPort
# body element {http://apache.org/hello_world_soap12_http/types}sayHi
{}
`},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			got, err := Skeleton(load(t, tt.file), tt.op)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("skeleton\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSkeletonShowsTextAndAttributes(t *testing.T) {
	d := load(t, ordersWSDL)
	// The response element has a simpleContent type (Total) and a
	// repeated complex one (Line); make it an input to see them.
	d.Services[0].Ports[0].Binding.Operations[0].Input.Parts[0].Element = "{urn:outflow:orders:v1}GetOrderStatusResponse"
	got, err := Skeleton(d, "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Status: \"<Received|Packed|Shipped|Delivered|Cancelled>\"\n",
		"Line:  # optional, repeated (0..unbounded)\n  - Sku: \"<string>\"\n    Quantity: \"<int>\"\n    Description: \"<string>\"  # optional, nillable\n",
		"Total:  # optional\n  \"@currency\": \"<string>\"  # attribute\n  \"#text\": \"<decimal>\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("skeleton lacks\n%s\nin\n%s", want, got)
		}
	}
}
