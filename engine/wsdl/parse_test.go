package wsdl

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

const ordersWSDL = "../../steps/soap/soaptest/orders.wsdl"

func load(t *testing.T, file string) *Definitions {
	t.Helper()
	d, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRealWSDLs loads every committed WSDL, checks what it describes and
// that a skeleton comes out of each operation, parses as YAML and builds a
// request with no unknown field.
func TestRealWSDLs(t *testing.T) {
	tests := []struct {
		file       string
		ports      []string // service/port (SOAP version)
		operations int      // per port
		check      string   // an operation to look at
		version    string
		style      string
		action     string
		input      string
	}{
		{ordersWSDL, []string{"OrderService/OrdersSoap11Port (1.1)", "OrderService/OrdersSoap12Port (1.2)"}, 1,
			"GetOrderStatus", SOAP11, "document", "urn:outflow:orders:v1/GetOrderStatus", "{urn:outflow:orders:v1}GetOrderStatus"},
		{"testdata/dneonline-calculator/calculator.wsdl", []string{"Calculator/CalculatorSoap (1.1)", "Calculator/CalculatorSoap12 (1.2)"}, 4,
			"Divide", SOAP11, "document", "http://tempuri.org/Divide", "{http://tempuri.org/}Divide"},
		{"testdata/spring-ws-airline/airline.wsdl", []string{"AirlineService/AirlineSoap11 (1.1)"}, 3,
			"BookFlight", SOAP11, "document", "", "{http://www.springframework.org/spring-ws/samples/airline/schemas/messages}BookFlightRequest"},
		{"testdata/cxf/hello_world_soap12.wsdl", []string{"SOAPService/SoapPort (1.2)"}, 2,
			"sayHi", SOAP12, "document", "sayHiAction", "{http://apache.org/hello_world_soap12_http/types}sayHi"},
		{"testdata/cxf/soapbody_rpc.wsdl", []string{"SOAPRPCBodyService/SoapRPCBodyPort (1.1)"}, 2,
			"sayHello1", SOAP11, "rpc", "sayHello", "rpc {http://apache.org/body_test/rpc}sayHello1(in1, in2, in3)"},
		{"testdata/countryinfo-include/CountryInfoService.wsdl", []string{"CountryInfoService/CountryInfoServiceSoap (1.1)", "CountryInfoService/CountryInfoServiceSoap12 (1.2)"}, 21,
			"FullCountryInfo", SOAP11, "document", "", "{http://www.oorsprong.org/websamples.countryinfo}FullCountryInfo"},
		{"testdata/imports/service.wsdl", []string{"ShippingService/ShippingPort (1.2)"}, 1,
			"CreateShipment", SOAP12, "document", "urn:outflow:test:shipping:CreateShipment", "{urn:outflow:test:shipping:types}CreateShipment"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			d := load(t, tt.file)
			var ports []string
			for _, s := range d.Services {
				for _, p := range s.Ports {
					ports = append(ports, s.Name+"/"+p.Name+" ("+p.Binding.SOAPVersion+")")
					if len(p.Binding.Operations) != tt.operations {
						t.Errorf("port %s: %d operations, want %d", p.Name, len(p.Binding.Operations), tt.operations)
					}
				}
			}
			if !reflect.DeepEqual(ports, tt.ports) {
				t.Errorf("ports %v, want %v", ports, tt.ports)
			}
			var info *OperationInfo
			for _, op := range Operations(d) {
				if op.Operation == tt.check {
					info = &op
					break
				}
			}
			if info == nil {
				t.Fatalf("no operation %s", tt.check)
			}
			if info.SOAPVersion != tt.version || info.Style != tt.style || info.SOAPAction != tt.action || info.Input != tt.input {
				t.Errorf("operation %s: %+v", tt.check, *info)
			}
			seen := map[string]bool{}
			for _, op := range Operations(d) {
				if seen[op.Operation] {
					continue
				}
				seen[op.Operation] = true
				sk, err := Skeleton(d, op.Operation)
				if err != nil {
					t.Fatalf("skeleton of %s: %v", op.Operation, err)
				}
				var body any
				if err := yaml.Unmarshal([]byte(sk), &body); err != nil {
					t.Fatalf("skeleton of %s is not YAML: %v\n%s", op.Operation, err, sk)
				}
				_, _, _, _, err = BuildRequest(d, op.Service, op.Port, op.Operation, body, nil, nil)
				// A skeleton shows every branch of a choice, which a
				// request must not send together; anything else is a bug.
				if err != nil && !strings.Contains(err.Error(), "alternatives (xs:choice)") {
					t.Errorf("building %s from its skeleton: %v\n%s", op.Operation, err, sk)
				}
			}
		})
	}
}

func TestSOAP12BindingAttributes(t *testing.T) {
	d := load(t, ordersWSDL)
	_, p, op, err := d.Lookup("", "OrdersSoap12Port", "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	if p.Address != "http://localhost:8080/soap/orders" || op.SOAPAction != "urn:outflow:orders:v1/GetOrderStatus" || op.SOAPVersion != SOAP12 || op.Style != "document" {
		t.Fatalf("soap12 binding read as address %q, %+v", p.Address, op)
	}
	if len(op.Input.Headers) != 1 || op.Input.Headers[0].Element != "{urn:outflow:orders:v1}Trace" {
		t.Fatalf("soap12:header not read: %+v", op.Input.Headers)
	}
	if len(op.Faults) != 1 || op.Faults[0].Name != "OrderFault" || op.Faults[0].Parts[0].Element != "{urn:outflow:orders:v1}OrderFault" {
		t.Fatalf("faults: %v", op.Faults)
	}
}

func TestImportsAcrossFolders(t *testing.T) {
	d := load(t, "testdata/imports/service.wsdl")
	s := d.Schema
	ct := s.ComplexTypes["{urn:outflow:test:shipping:types}Address"]
	if ct == nil {
		t.Fatal("the chameleon-included Address type did not take the including schema's namespace")
	}
	country := s.resolve(ct.Content.Items[2].Element)
	if ti := s.typeOfElement(country); !ti.known || ti.simple != "string" || ti.name != "{urn:outflow:test:shipping:types}CountryCode" {
		t.Fatalf("unqualified reference in a chameleon schema: %+v", ti)
	}
	create := s.Elements["{urn:outflow:test:shipping:types}CreateShipment"]
	items := create.Complex.Content.Items
	if items[0].Element.Namespace != "urn:outflow:test:shipping:types" || items[1].Element.Namespace != "" {
		t.Fatalf("form=qualified on one local element, unqualified default on the others: %q, %q", items[0].Element.Namespace, items[1].Element.Namespace)
	}
}

func TestParseFromMemory(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata/imports", p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("relative keys", func(t *testing.T) {
		docs := map[string][]byte{
			"bindings/shipping-binding.wsdl": read("bindings/shipping-binding.wsdl"),
			"schemas/shipping.xsd":           read("schemas/shipping.xsd"),
			"schemas/parts/address.xsd":      read("schemas/parts/address.xsd"),
		}
		d, err := Parse(read("service.wsdl"), MapResolver(docs))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := d.Lookup("", "", "CreateShipment"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fetched over HTTP", func(t *testing.T) {
		base := "https://partner.example/ws/"
		docs := map[string][]byte{
			base + "bindings/shipping-binding.wsdl": read("bindings/shipping-binding.wsdl"),
			base + "schemas/shipping.xsd":           read("schemas/shipping.xsd"),
			base + "schemas/parts/address.xsd":      read("schemas/parts/address.xsd"),
		}
		d, err := ParseLocation(base+"service.wsdl", read("service.wsdl"), MapResolver(docs))
		if err != nil {
			t.Fatal(err)
		}
		if d.Source != base+"service.wsdl" {
			t.Fatalf("source %q", d.Source)
		}
	})
	t.Run("missing import names both documents", func(t *testing.T) {
		docs := map[string][]byte{"bindings/shipping-binding.wsdl": read("bindings/shipping-binding.wsdl")}
		_, err := Parse(read("service.wsdl"), MapResolver(docs))
		if err == nil || !strings.Contains(err.Error(), "bindings/shipping-binding.wsdl:13: importing schema \"../schemas/shipping.xsd\": schemas/shipping.xsd does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseErrors(t *testing.T) {
	const head = `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:t" targetNamespace="urn:t">`
	const msgs = `<message name="In"><part name="p" element="tns:Req"/></message><portType name="PT"><operation name="Op"><input message="tns:In"/></operation></portType>`
	const binding = `<binding name="B" type="tns:PT"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/><operation name="Op"><soap:operation soapAction="a"/><input><soap:body use="literal"/></input></operation></binding>`
	const service = `<service name="S"><port name="P" binding="tns:B"><soap:address location="http://x/"/></port></service>`
	const types = `<types><xs:schema targetNamespace="urn:t"><xs:element name="Req" type="xs:string"/></xs:schema></types>`
	tests := []struct {
		name, doc, want string
	}{
		{"not XML", `hello`, "WSDL: reading XML"},
		{"DTD", `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>` + head + `</definitions>`, "a DOCTYPE is not accepted"},
		{"WSDL 2.0", `<description xmlns="http://www.w3.org/ns/wsdl"/>`, "WSDL 2.0 is not supported"},
		{"a schema", `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>`, "this is an XML Schema, not a WSDL"},
		{"other root", `<html/>`, "root element is <html>"},
		{"no SOAP port", head + types + msgs + `</definitions>`, "no service has a SOAP 1.1 or SOAP 1.2 port"},
		{"unknown binding", head + types + msgs + service + `</definitions>`, `port "P" refers to binding {urn:t}B, which no document defines`},
		{"unknown port type", head + types + msgs + strings.Replace(binding, "tns:PT", "tns:Nope", 1) + service + `</definitions>`, "refers to port type {urn:t}Nope"},
		{"unknown message", head + types + strings.Replace(msgs, `message="tns:In"`, `message="tns:Out"`, 1) + binding + service + `</definitions>`, "message {urn:t}Out is not defined"},
		{"undeclared prefix", head + types + strings.Replace(msgs, `element="tns:Req"`, `element="zz:Req"`, 1) + binding + service + `</definitions>`, `prefix "zz" of "zz:Req" is not declared`},
		{"undefined element", head + msgs + binding + service + `</definitions>`, "undefined schema declarations: element {urn:t}Req (used by part p of message In)"},
		{"undefined type", head + `<types><xs:schema targetNamespace="urn:t"><xs:element name="Req" type="tns:Missing"/></xs:schema></types>` + msgs + binding + service + `</definitions>`, "type {urn:t}Missing (used by element {urn:t}Req)"},
		{"version mismatch", head + types + msgs + binding + strings.Replace(service, "soap:address", "soap12:address", 1) + `</definitions>`, `port "P" has a SOAP 1.2 address but a SOAP 1.1 binding`},
		{"import without resolver", head + `<import namespace="urn:x" location="other.wsdl"/>` + types + msgs + binding + service + `</definitions>`, `WSDL:1: importing WSDL "other.wsdl": no resolver for imports`},
		{"bad maxOccurs", head + `<types><xs:schema targetNamespace="urn:t"><xs:element name="Req"><xs:complexType><xs:sequence><xs:element name="a" maxOccurs="many"/></xs:sequence></xs:complexType></xs:element></xs:schema></types>` + msgs + binding + service + `</definitions>`, `maxOccurs "many" is not a number or unbounded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
	t.Run("the valid variant parses", func(t *testing.T) {
		if _, err := Parse([]byte(head+types+msgs+binding+service+`</definitions>`), nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.wsdl")
	doc := `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:t"><import namespace="urn:x" location="https://partner.example/x.wsdl"/></definitions>`
	if err := os.WriteFile(main, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	if err == nil || !strings.Contains(err.Error(), main+":1") || !strings.Contains(err.Error(), "network location") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load(filepath.Join(dir, "missing.wsdl"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "loading WSDL") {
		t.Fatalf("err = %v", err)
	}
}

func TestLookup(t *testing.T) {
	d := load(t, "testdata/dneonline-calculator/calculator.wsdl")
	tests := []struct {
		service, port, op string
		wantPort, wantErr string
	}{
		{"", "", "Add", "CalculatorSoap", ""},
		{"", "CalculatorSoap12", "Add", "CalculatorSoap12", ""},
		{"Calculator", "", "Divide", "CalculatorSoap", ""},
		{"", "", "add", "", `no operation "add" (operations: Add, Divide, Multiply, Subtract); did you mean "Add"?`},
		{"Nope", "", "Add", "", `no service "Nope" (services: Calculator)`},
		{"", "Nope", "Add", "", `no SOAP port "Nope" (ports: CalculatorSoap, CalculatorSoap12)`},
	}
	for _, tt := range tests {
		_, p, _, err := d.Lookup(tt.service, tt.port, tt.op)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Lookup(%q, %q, %q) err = %v", tt.service, tt.port, tt.op, err)
			}
			continue
		}
		if err != nil || p.Name != tt.wantPort {
			t.Errorf("Lookup(%q, %q, %q) = %v, %v", tt.service, tt.port, tt.op, p, err)
		}
	}
}

// TestDefinitionsTravelAsJSON checks what a plan relies on: a subset of the
// definitions survives JSON and builds the same request as the original.
func TestDefinitionsTravelAsJSON(t *testing.T) {
	for _, tt := range []struct {
		file, op string
		body     any
	}{
		{ordersWSDL, "GetOrderStatus", map[string]any{"IncludeLines": false, "OrderId": "42"}},
		{"testdata/imports/service.wsdl", "CreateShipment", shipment()},
		{"testdata/countryinfo-include/CountryInfoService.wsdl", "FullCountryInfo", map[string]any{"sCountryISOCode": "NL"}},
	} {
		d := load(t, tt.file)
		sub, err := d.Subset("", "", tt.op)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(sub)
		if err != nil {
			t.Fatal(err)
		}
		var back Definitions
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		want, _, _, _, err := BuildRequest(d, "", "", tt.op, tt.body, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, _, err := BuildRequest(&back, "", "", tt.op, tt.body, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: after JSON:\n%s\nwant\n%s", tt.op, got, want)
		}
		full, _ := json.Marshal(d)
		if tt.op == "FullCountryInfo" && len(data)*3 > len(full) {
			t.Errorf("the subset (%d bytes) is not much smaller than the whole (%d bytes)", len(data), len(full))
		}
		if names := keys(back.Schema.Elements); tt.op == "GetOrderStatus" && !reflect.DeepEqual(names, []string{
			"{urn:outflow:orders:v1}GetOrderStatus", "{urn:outflow:orders:v1}GetOrderStatusResponse", "{urn:outflow:orders:v1}OrderFault", "{urn:outflow:orders:v1}Trace",
		}) {
			t.Errorf("subset elements: %v", names)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FuzzParse feeds arbitrary documents to the WSDL reader and uses what it
// accepts: listing, skeletons and requests must not panic or loop.
func FuzzParse(f *testing.F) {
	for _, file := range []string{ordersWSDL, "testdata/spring-ws-airline/airline.wsdl", "testdata/cxf/soapbody_rpc.wsdl", "testdata/cxf/hello_world_soap12.wsdl"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const selfRef = `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t" targetNamespace="urn:t">` +
		`<types><xs:schema targetNamespace="urn:t"><xs:group name="g"><xs:sequence><xs:element name="a" type="xs:string"/><xs:group ref="t:g" minOccurs="0"/></xs:sequence></xs:group>` +
		`<xs:complexType name="Node"><xs:sequence><xs:element name="child" type="t:Node" minOccurs="0"/><xs:group ref="t:g"/></xs:sequence></xs:complexType>` +
		`<xs:element name="Req" type="t:Node"/></xs:schema></types>` +
		`<message name="In"><part name="p" element="t:Req"/></message><portType name="PT"><operation name="Op"><input message="t:In"/><output message="t:In"/></operation></portType>` +
		`<binding name="B" type="t:PT"><soap:binding style="document"/><operation name="Op"><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation></binding>` +
		`<service name="S"><port name="P" binding="t:B"><soap:address location="http://x/"/></port></service></definitions>`
	f.Add([]byte(selfRef))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data, nil)
		if err != nil {
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("definitions are not JSON: %v", err)
		}
		for _, op := range Operations(d) {
			sk, err := Skeleton(d, op.Operation)
			if err != nil {
				continue
			}
			var body any
			if yaml.Unmarshal([]byte(sk), &body) != nil {
				t.Fatalf("skeleton is not YAML:\n%s", sk)
			}
			_, _, _, _, _ = BuildRequest(d, op.Service, op.Port, op.Operation, body, nil, nil)
			_, _, _, _, _ = BuildRequest(d, op.Service, op.Port, op.Operation, map[string]any{"a": "x", "child": map[string]any{"a": "y"}}, nil, nil)
		}
	})
}
