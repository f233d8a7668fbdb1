// Package soaptest is a SOAP partner for tests and the quickstart: it
// serves the GetOrderStatus operation of orders.wsdl over SOAP 1.1 and
// SOAP 1.2, answers with faults the way real services do (a Client fault
// with HTTP 500 for an unknown order, a Server fault with HTTP 200 for
// order "flaky") and checks a WS-Security UsernameToken when configured.
//
// It reads requests with encoding/xml on its own rather than with package
// wsdl, so tests of the request builder check it against an independent
// reader. Wrap Orders in any server, TLS with client certificates
// included.
package soaptest

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

//go:embed orders.wsdl
var ordersWSDL []byte

// Namespaces of orders.wsdl and of the envelopes it is served in.
const (
	OrdersNS     = "urn:outflow:orders:v1"
	SOAPAction   = "urn:outflow:orders:v1/GetOrderStatus"
	soap11EnvNS  = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12EnvNS  = "http://www.w3.org/2003/05/soap-envelope"
	wsseNS       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	passwordText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	passwordDig  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	wsdlAddress  = "http://localhost:8080/soap/orders"
	maxBodyBytes = 1 << 20
)

// WSDL returns orders.wsdl with its port addresses set to address (for
// example "https://127.0.0.1:8443/soap/orders"); an empty address leaves
// the file as committed.
func WSDL(address string) []byte {
	if address == "" {
		return bytes.Clone(ordersWSDL)
	}
	return bytes.ReplaceAll(ordersWSDL, []byte(wsdlAddress), []byte(escape(address)))
}

// Order is what GetOrderStatus answers for one order id.
type Order struct {
	Status     string
	CustomerID string
	Lines      []Line
	// Total and Currency are left out of the answer when Total is empty.
	Total     string
	Currency  string
	ShippedAt string
}

// Line is one order line; an empty Description is sent as xsi:nil.
type Line struct {
	Sku         string
	Quantity    int
	Description string
}

// DefaultOrders are served when Orders.Orders is nil: "42" has two lines
// (one without a description), "7" a single line, so tests can check that
// a single repeated element still reads as a list.
var DefaultOrders = map[string]Order{
	"42": {Status: "Shipped", CustomerID: "C-7", Total: "99.50", Currency: "EUR", ShippedAt: "2026-01-02T03:04:05Z",
		Lines: []Line{{Sku: "A-1", Quantity: 2, Description: "Widget"}, {Sku: "B-2", Quantity: 1}}},
	"7": {Status: "Received", CustomerID: "C-9", Lines: []Line{{Sku: "C-3", Quantity: 5, Description: "Gadget"}}},
}

// FlakyOrder always gets a Server fault with HTTP 200.
const FlakyOrder = "flaky"

// Orders is an http.Handler serving orders.wsdl: POST calls
// GetOrderStatus, GET with ?wsdl returns the WSDL pointing at the request's
// URL. The zero value serves DefaultOrders without authentication. It is
// safe for concurrent use; set the fields before serving.
type Orders struct {
	// Username and Password, when Username is set, must come in a
	// WS-Security UsernameToken, as PasswordText or PasswordDigest.
	Username, Password string
	// Orders replaces DefaultOrders when set.
	Orders map[string]Order

	mu       sync.Mutex
	requests []Request
}

// Request is what the server saw of one call.
type Request struct {
	SOAPVersion   string // "1.1" or "1.2"
	ContentType   string
	SOAPAction    string // the header (SOAP 1.1) or the action parameter (SOAP 1.2), unquoted
	Envelope      []byte
	OrderID       string
	CorrelationID string // from the Trace header block
	Username      string
	PasswordType  string // "text" or "digest" when a UsernameToken came
}

// Requests returns the calls served so far.
func (o *Orders) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Request(nil), o.requests...)
}

type envelope struct {
	XMLName xml.Name
	Header  struct {
		Security *struct {
			Username string `xml:"UsernameToken>Username"`
			Password struct {
				Type  string `xml:"Type,attr"`
				Value string `xml:",chardata"`
			} `xml:"UsernameToken>Password"`
			Nonce   string `xml:"UsernameToken>Nonce"`
			Created string `xml:"UsernameToken>Created"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
		Trace *struct {
			CorrelationID string `xml:"urn:outflow:orders:v1 CorrelationId"`
		} `xml:"urn:outflow:orders:v1 Trace"`
	} `xml:"Header"`
	Body struct {
		Call *struct {
			OrderID      string `xml:"urn:outflow:orders:v1 OrderId"`
			IncludeLines string `xml:"urn:outflow:orders:v1 IncludeLines"`
		} `xml:"urn:outflow:orders:v1 GetOrderStatus"`
	} `xml:"Body"`
}

// ServeHTTP answers one request.
func (o *Orders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Query().Has("wsdl") {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(WSDL(scheme + "://" + r.Host + r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "POST a SOAP envelope, or GET ?wsdl", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var env envelope
	if err := xml.Unmarshal(data, &env); err != nil {
		// Not even an envelope: answer as a SOAP 1.1 service would.
		writeFault(w, "1.1", http.StatusInternalServerError, "soap:Client", "", "the request is not XML: "+err.Error(), "", "")
		return
	}
	req := Request{ContentType: r.Header.Get("Content-Type"), Envelope: data}
	mediaType, params, _ := mime.ParseMediaType(req.ContentType)
	switch env.XMLName.Space {
	case soap11EnvNS:
		req.SOAPVersion = "1.1"
		req.SOAPAction = unquote(r.Header.Get("SOAPAction"))
	case soap12EnvNS:
		req.SOAPVersion = "1.2"
		req.SOAPAction = params["action"]
	default:
		writeFault(w, "1.1", http.StatusInternalServerError, "soap:VersionMismatch", "", "the root element is not a SOAP 1.1 or 1.2 Envelope", "", "")
		return
	}
	if env.Header.Security != nil {
		req.Username = env.Header.Security.Username
		switch env.Header.Security.Password.Type {
		case passwordDig:
			req.PasswordType = "digest"
		default:
			req.PasswordType = "text"
		}
	}
	if env.Header.Trace != nil {
		req.CorrelationID = env.Header.Trace.CorrelationID
	}
	if env.Body.Call != nil {
		req.OrderID = env.Body.Call.OrderID
	}
	o.mu.Lock()
	o.requests = append(o.requests, req)
	o.mu.Unlock()

	v := req.SOAPVersion
	clientCode := map[string]string{"1.1": "soap:Client", "1.2": "soap:Sender"}[v]
	wantType := map[string]string{"1.1": "text/xml", "1.2": "application/soap+xml"}[v]
	switch {
	case mediaType != wantType:
		writeFault(w, v, http.StatusInternalServerError, clientCode, "", fmt.Sprintf("a SOAP %s envelope must be sent as %s, not %q", v, wantType, req.ContentType), "", "")
		return
	case req.SOAPAction != SOAPAction:
		writeFault(w, v, http.StatusInternalServerError, clientCode, "", fmt.Sprintf("unknown SOAPAction %q", req.SOAPAction), "", "")
		return
	case env.Body.Call == nil:
		writeFault(w, v, http.StatusInternalServerError, clientCode, "", "the body holds no GetOrderStatus element in namespace "+OrdersNS, "", "")
		return
	}
	if o.Username != "" {
		if msg := o.checkToken(&env); msg != "" {
			// WS-Security names its fault codes in its own namespace: in
			// faultcode with SOAP 1.1, as a subcode of Sender with 1.2.
			if v == "1.1" {
				writeFault(w, v, http.StatusInternalServerError, "wsse:FailedAuthentication", "", msg, "", "")
			} else {
				writeFault(w, v, http.StatusInternalServerError, clientCode, "wsse:FailedAuthentication", msg, "", "")
			}
			return
		}
	}
	id := strings.TrimSpace(env.Body.Call.OrderID)
	if id == FlakyOrder {
		serverCode := map[string]string{"1.1": "soap:Server", "1.2": "soap:Receiver"}[v]
		writeFault(w, v, http.StatusOK, serverCode, "", "the order database is busy, try again", "", "")
		return
	}
	orders := o.Orders
	if orders == nil {
		orders = DefaultOrders
	}
	order, ok := orders[id]
	if !ok {
		writeFault(w, v, http.StatusInternalServerError, clientCode, "o:UnknownOrder", fmt.Sprintf("Order %s not found", id), id, "no such order")
		return
	}
	includeLines := strings.TrimSpace(env.Body.Call.IncludeLines) != "false" && strings.TrimSpace(env.Body.Call.IncludeLines) != "0"
	writeOrder(w, v, id, order, includeLines)
}

func (o *Orders) checkToken(env *envelope) string {
	sec := env.Header.Security
	if sec == nil {
		return "a WS-Security UsernameToken is required"
	}
	if subtle.ConstantTimeCompare([]byte(sec.Username), []byte(o.Username)) != 1 {
		return "the username or password is wrong"
	}
	switch sec.Password.Type {
	case passwordDig:
		nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sec.Nonce))
		if err != nil || len(nonce) == 0 || sec.Created == "" {
			return "a password digest needs a Base64 nonce and a created time"
		}
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(sec.Created))
		h.Write([]byte(o.Password))
		want := base64.StdEncoding.EncodeToString(h.Sum(nil))
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(sec.Password.Value)), []byte(want)) != 1 {
			return "the username or password is wrong"
		}
	case passwordText, "":
		if subtle.ConstantTimeCompare([]byte(sec.Password.Value), []byte(o.Password)) != 1 {
			return "the username or password is wrong"
		}
	default:
		return fmt.Sprintf("password type %q is not supported", sec.Password.Type)
	}
	return ""
}

func envNS(v string) string {
	if v == "1.2" {
		return soap12EnvNS
	}
	return soap11EnvNS
}

func contentType(v string) string {
	if v == "1.2" {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// writeOrder answers with the body elements in the default namespace and a
// different envelope prefix than clients usually send, as many stacks do.
func writeOrder(w http.ResponseWriter, v, id string, o Order, includeLines bool) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<S:Envelope xmlns:S="` + envNS(v) + `"><S:Body>`)
	b.WriteString(`<GetOrderStatusResponse xmlns="` + OrdersNS + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString("<OrderId>" + escape(id) + "</OrderId>")
	b.WriteString("<Status>" + escape(o.Status) + "</Status>")
	b.WriteString("<CustomerId>" + escape(o.CustomerID) + "</CustomerId>")
	if includeLines {
		for _, l := range o.Lines {
			b.WriteString("<Line><Sku>" + escape(l.Sku) + "</Sku><Quantity>" + strconv.Itoa(l.Quantity) + "</Quantity>")
			if l.Description == "" {
				b.WriteString(`<Description xsi:nil="true"/>`)
			} else {
				b.WriteString("<Description>" + escape(l.Description) + "</Description>")
			}
			b.WriteString("</Line>")
		}
	}
	if o.Total != "" {
		b.WriteString(`<Total currency="` + escape(o.Currency) + `">` + escape(o.Total) + "</Total>")
	}
	if o.ShippedAt != "" {
		b.WriteString("<ShippedAt>" + escape(o.ShippedAt) + "</ShippedAt>")
	} else {
		b.WriteString(`<ShippedAt xsi:nil="true"/>`)
	}
	b.WriteString("</GetOrderStatusResponse></S:Body></S:Envelope>")
	w.Header().Set("Content-Type", contentType(v))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, b.String())
}

// writeFault answers with a fault. code and subcode are QNames with the
// prefixes soap (the envelope), wsse and o (orders.wsdl).
func writeFault(w http.ResponseWriter, v string, status int, code, subcode, reason, orderID, why string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:soap="` + envNS(v) + `" xmlns:wsse="` + wsseNS + `" xmlns:o="` + OrdersNS + `"><soap:Body><soap:Fault>`)
	detail := ""
	if orderID != "" {
		detail = "<o:OrderFault><o:OrderId>" + escape(orderID) + "</o:OrderId><o:Reason>" + escape(why) + "</o:Reason></o:OrderFault>"
	}
	if v == "1.2" {
		b.WriteString("<soap:Code><soap:Value>" + code + "</soap:Value>")
		if subcode != "" {
			b.WriteString("<soap:Subcode><soap:Value>" + subcode + "</soap:Value></soap:Subcode>")
		}
		b.WriteString(`</soap:Code><soap:Reason><soap:Text xml:lang="en">` + escape(reason) + "</soap:Text></soap:Reason>")
		if detail != "" {
			b.WriteString("<soap:Detail>" + detail + "</soap:Detail>")
		}
	} else {
		b.WriteString("<faultcode>" + code + "</faultcode><faultstring>" + escape(reason) + "</faultstring>")
		if detail != "" {
			b.WriteString("<detail>" + detail + "</detail>")
		}
	}
	b.WriteString("</soap:Fault></soap:Body></soap:Envelope>")
	w.Header().Set("Content-Type", contentType(v))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
