package main

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The n8n workflow is the same chain as Outflow's: a webhook, then steps
// GETs one after the other, each URL but the first built from the previous
// answer, each with the partner's basic credential and the client
// certificate; the credentials hold a key pair that TLS accepts.
func TestN8nWorkflowIsTheChain(t *testing.T) {
	p, err := startPartner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	wf := n8nWorkflow(p, 10)
	nodes := wf["nodes"].([]map[string]any)
	if len(nodes) != 11 || nodes[0]["type"] != "n8n-nodes-base.webhook" {
		t.Fatalf("%d nodes, first %v", len(nodes), nodes[0]["type"])
	}
	conns := wf["connections"].(map[string]any)
	prev := "Webhook"
	for i, n := range nodes[1:] {
		params := n["parameters"].(map[string]any)
		url := params["url"].(string)
		if (i == 0) != !strings.Contains(url, "{{ $json.id }}") || !strings.Contains(url, p.addr) {
			t.Errorf("node %d url %q", i+1, url)
		}
		if params["provideSslCertificates"] != true || params["genericAuthType"] != "httpBasicAuth" {
			t.Errorf("node %d parameters %v", i+1, params)
		}
		next := conns[prev].(map[string]any)["main"].([][]map[string]any)[0][0]["node"]
		if next != n["name"] {
			t.Errorf("%s leads to %v, want %v", prev, next, n["name"])
		}
		prev = n["name"].(string)
	}
	creds, err := n8nCredentials(p)
	if err != nil {
		t.Fatal(err)
	}
	cert := creds[1]["data"].(map[string]any)
	if _, err := tls.X509KeyPair([]byte(cert["cert"].(string)), []byte(cert["key"].(string))); err != nil {
		t.Fatalf("the client certificate and key do not pair: %v", err)
	}
	if b, _ := pem.Decode([]byte(cert["ca"].(string))); b == nil {
		t.Fatal("no CA certificate")
	}
	if creds[0]["data"].(map[string]any)["password"] != p.password {
		t.Fatal("the basic credential is not the partner's")
	}
}

// procCPU reads this process's own CPU time from /proc as getrusage does.
func TestProcCPU(t *testing.T) {
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	_ = fmt.Sprint(x)
	if got := procCPU(os.Getpid()); got <= 0 || got > cpuTime()+20e6 {
		t.Fatalf("procCPU = %v, getrusage %v", got, cpuTime())
	}
}
