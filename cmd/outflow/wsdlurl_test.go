package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps/soap"
)

// TestWSDLByURL runs the quickstart flow with its SOAP step's WSDL named by
// the partner's URL instead of a project file: the WSDL is fetched through
// the connection's client certificate and credential, cached, and the
// commands that read WSDLs work from the URL.
func TestWSDLByURL(t *testing.T) {
	dir := copyQuickstart(t)
	certs, err := partner.GenerateCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	pw := partner.RandomSecret()
	t.Setenv("PARTNER_KEYSTORE_PASSWORD", certs.KeystorePassword)
	t.Setenv("PARTNER_PASSWORD", pw)
	b, err := os.ReadFile(filepath.Join(dir, "partner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	port := strings.SplitN(strings.SplitN(string(b), "port: ", 2)[1], "\n", 2)[0]
	p := partner.New("svc-outflow", pw)
	srv, err := partner.Serve(net.JoinHostPort("127.0.0.1", port), certs.ServerTLS, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	u := "https://127.0.0.1:" + port + "/v2/soap/orders?wsdl"
	flow := filepath.Join(dir, "flow.yaml")
	fb, _ := os.ReadFile(flow)
	if !strings.Contains(string(fb), "wsdl: wsdl/orders.wsdl") {
		t.Fatal("the quickstart flow no longer names wsdl/orders.wsdl")
	}
	if err := os.WriteFile(flow, []byte(strings.Replace(string(fb), "wsdl: wsdl/orders.wsdl", "wsdl: \""+u+"\"", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "wsdl")); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := cli(t, "run", "order-sync", "--project", dir, "--json")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `"order_status": "Shipped"`) {
		t.Fatalf("run output lacks the SOAP step's answer:\n%s", stdout)
	}
	cached, err := soap.ListWSDLCache(filepath.Join(dir, wsdl.CacheDir))
	if err != nil || len(cached) != 1 || cached[0].URL != u || cached[0].Connection != "partner-soap" {
		t.Fatalf("cache = %+v, %v", cached, err)
	}
	if data, _ := os.ReadFile(cached[0].File); strings.Contains(string(data), pw) || !strings.Contains(string(data), "GetOrderStatus") {
		t.Fatalf("cached WSDL is not the partner's, or holds the password")
	}
	before := p.ClientCertificates()["svc-outflow"]

	// soap operations reads the URL through the connection.
	stdout, stderr, code = cli(t, "soap", "operations", u, "--project", dir, "--connection", "partner-soap", "--operation", "GetOrderStatus")
	if code != 0 || !strings.Contains(stdout, "connection: partner-soap") || !strings.Contains(stdout, "OrderId:") {
		t.Fatalf("soap operations: exit %d\n%s\n%s", code, stdout, stderr)
	}
	_, stderr, code = cli(t, "soap", "operations", u, "--project", dir)
	if code == 0 || !strings.Contains(stderr, "--connection") {
		t.Fatalf("soap operations of a URL without --connection: exit %d\n%s", code, stderr)
	}

	// soap fetch goes to the partner again, with the client certificate.
	stdout, stderr, code = cli(t, "soap", "fetch", "--project", dir)
	if code != 0 || !strings.Contains(stdout, u+"  via partner-soap") {
		t.Fatalf("soap fetch: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if after := p.ClientCertificates()["svc-outflow"]; after != before+1 {
		t.Fatalf("soap fetch made %d requests with the client certificate, want 1", after-before)
	}

	// With the partner gone, the project still validates from the cache,
	// and a refresh says what failed.
	srv.Close()
	if _, stderr, code = cli(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate from the cache: exit %d\n%s", code, stderr)
	}
	_, stderr, code = cli(t, "soap", "fetch", "--project", dir)
	if code == 0 || !strings.Contains(stderr, "flow.yaml:") || !strings.Contains(stderr, "fetching the WSDL through connection partner-soap") {
		t.Fatalf("soap fetch with the partner down: exit %d\n%s", code, stderr)
	}
}
