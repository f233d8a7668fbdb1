package flows_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/flows"
)

const symlinkFlows = `kind: Connection
name: orders
url: https://soap.partner.example/soap/orders
---
kind: Flow
name: linked
steps:
  - id: linked_file
    soap: {connection: orders, wsdl: wsdl/linked.wsdl, operation: GetOrderStatus}
  - id: linked_folder
    soap: {connection: orders, wsdl: shared/orders.wsdl, operation: GetOrderStatus}
  - id: linked_import
    soap: {connection: orders, wsdl: wsdl/imports-linked.wsdl, operation: GetOrderStatus}
  - id: file_import
    soap: {connection: orders, wsdl: wsdl/imports-file.wsdl, operation: GetOrderStatus}
  - id: http_import
    soap: {connection: orders, wsdl: wsdl/imports-http.wsdl, operation: GetOrderStatus}
  - id: link_inside
    soap: {connection: orders, wsdl: wsdl/alias.wsdl, operation: GetOrderStatus, body: {OrderId: "1"}}
`

const importingWSDL = `<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">
  <types>
    <xs:schema targetNamespace="urn:x">
      <xs:import namespace="urn:t" schemaLocation="LOCATION"/>
    </xs:schema>
  </types>
</definitions>
`

// WSDL and XSD files are read from the project folder only: a symbolic link
// (to a file or a folder) that leads out of it is refused before anything
// is read through it, and imports by file: or http: URL get their own words.
func TestWSDLSymlinksStayInTheProject(t *testing.T) {
	orders, err := os.ReadFile(filepath.Join("testdata", "valid", "partner", "wsdl", "orders.wsdl"))
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secretWSDL := filepath.Join(outside, "secret.wsdl")
	mustWrite(t, secretWSDL, orders)
	mustWrite(t, filepath.Join(outside, "orders.wsdl"), orders)
	mustWrite(t, filepath.Join(outside, "types.xsd"), []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"/>`))

	proj := t.TempDir()
	mustWrite(t, filepath.Join(proj, "flow.yaml"), []byte(symlinkFlows))
	mustWrite(t, filepath.Join(proj, "wsdl", "orders.wsdl"), orders)
	mustWrite(t, filepath.Join(proj, "wsdl", "imports-linked.wsdl"), []byte(strings.Replace(importingWSDL, "LOCATION", "types.xsd", 1)))
	mustWrite(t, filepath.Join(proj, "wsdl", "imports-file.wsdl"), []byte(strings.Replace(importingWSDL, "LOCATION", "file://"+filepath.ToSlash(filepath.Join(outside, "types.xsd")), 1)))
	mustWrite(t, filepath.Join(proj, "wsdl", "imports-http.wsdl"), []byte(strings.Replace(importingWSDL, "LOCATION", "http://schemas.partner.example/types.xsd", 1)))
	mustLink(t, secretWSDL, filepath.Join(proj, "wsdl", "linked.wsdl"))
	mustLink(t, filepath.Join(outside, "types.xsd"), filepath.Join(proj, "wsdl", "types.xsd"))
	mustLink(t, outside, filepath.Join(proj, "shared"))
	mustLink(t, "orders.wsdl", filepath.Join(proj, "wsdl", "alias.wsdl"))

	_, err = flows.Load(proj)
	var problems flows.Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Load: %v, want problems", err)
	}
	byLine := map[int]string{}
	for _, p := range problems {
		t.Logf("%s", p)
		byLine[p.Line] += p.Message + "\n"
	}
	for _, tc := range []struct {
		line int
		want []string
	}{
		{9, []string{"wsdl/linked.wsdl", "symbolic link", secretWSDL, "outside the project folder"}},
		{11, []string{"shared/orders.wsdl", "symbolic link", "outside the project folder"}},
		{13, []string{"wsdl/types.xsd", "symbolic link", "outside the project folder"}},
		{15, []string{"file:", "not read", "relative"}},
		{17, []string{"http://schemas.partner.example/types.xsd", "not fetched", "wsdl: https://"}},
	} {
		msg := byLine[tc.line]
		if msg == "" {
			t.Errorf("no problem at flow.yaml:%d", tc.line)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("flow.yaml:%d does not say %q: %s", tc.line, w, msg)
			}
		}
	}
	if msg := byLine[19]; msg != "" {
		t.Errorf("a link inside the project was refused: %s", msg)
	}
	if len(problems) != 5 {
		t.Errorf("%d problems, want 5", len(problems))
	}

	// The same project without the links that leave it loads.
	for _, name := range []string{"wsdl/linked.wsdl", "wsdl/types.xsd", "shared"} {
		if err := os.Remove(filepath.Join(proj, name)); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(proj, "flow.yaml"), []byte(symlinkFlows[:strings.Index(symlinkFlows, "  - id: linked_file")]+symlinkFlows[strings.Index(symlinkFlows, "  - id: link_inside"):]))
	if _, err := flows.Load(proj); err != nil {
		t.Fatalf("a project whose link stays inside: %v", err)
	}

	// A project folder reached through a link is fine: links are resolved
	// on both sides.
	viaLink := filepath.Join(t.TempDir(), "project")
	mustLink(t, proj, viaLink)
	if _, err := flows.Load(viaLink); err != nil {
		t.Fatalf("a project opened through a link: %v", err)
	}
}

func mustWrite(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustLink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
