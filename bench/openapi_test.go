package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/flows"
)

// largestSpec is the largest document of the shared OpenAPI corpus: Adyen's
// Management API, OpenAPI 3.1 JSON, 1.4 MB, 134 operations.
const largestSpec = "adyen/ManagementService-v3.json"

// openAPIProject writes a project whose connection names the largest
// corpus document: a flow of five steps that call operations (parameters,
// bodies, response reads), and, with actions, an action per operation
// generated from it. It skips when the corpus is not beside the module.
func openAPIProject(b *testing.B, actions bool) string {
	b.Helper()
	corpus := filepath.Join("..", "..", "shared", "corpora", "openapi")
	data, err := os.ReadFile(filepath.Join(corpus, largestSpec))
	if err != nil {
		b.Skipf("the OpenAPI corpus is not beside the module (../shared/corpora/openapi): %v", err)
	}
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "specs"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "specs", "management.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	project := `kind: Connection
name: adyen
url: https://management-test.adyen.com/v3
openapi: specs/management.json
---
kind: Flow
name: onboard
inputs:
  merchant: {type: string, required: true}
steps:
  - id: merchant
    rest: {connection: adyen, operation: get-merchants-merchantId, params: {merchantId: "${{ inputs.merchant }}"}, validate_response: true}
  - id: stores
    rest: {connection: adyen, operation: get-merchants-merchantId-stores, params: {merchantId: "${{ inputs.merchant }}", pageSize: 10}}
  - id: store
    rest:
      connection: adyen
      operation: post-merchants-merchantId-stores
      params: {merchantId: "${{ inputs.merchant }}"}
      body:
        description: "Store of ${{ steps.merchant.json.name }}"
        shopperStatement: Outflow
        phoneNumber: "+31201234567"
        address: {city: Amsterdam, country: NL, postalCode: 1011DJ, line1: Simon Carmiggeltstraat 6}
  - id: users
    rest: {connection: adyen, method: GET, path: "/merchants/${{ inputs.merchant }}/users"}
  - id: hook
    rest: {connection: adyen, operation: get-merchants-merchantId-webhooks, params: {merchantId: "${{ inputs.merchant }}"}}
outputs:
  merchant: "${{ steps.merchant.json.name }}"
  store: "${{ steps.store.json.id }}"
`
	if err := os.WriteFile(filepath.Join(dir, "project.yaml"), []byte(project), 0o644); err != nil {
		b.Fatal(err)
	}
	if actions {
		spec, err := reader.Parse("specs/management.json", data, nil)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "actions")
		if err := os.MkdirAll(out, 0o755); err != nil {
			b.Fatal(err)
		}
		for _, a := range flows.GenerateActions(spec, "adyen", flows.GenerateOptions{Source: "specs/management.json"}) {
			if err := os.WriteFile(filepath.Join(out, a.File), []byte(a.YAML), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := flows.Load(dir); err != nil {
		b.Fatalf("the project does not load: %v", err)
	}
	return dir
}

// BenchmarkOpenAPIProjectLoad is `outflow validate` of a project that uses
// the largest document of the corpus: read and check the flows, read the
// 1.4 MB document, check every step against it.
//
//	go test ./bench -run '^$' -bench OpenAPIProjectLoad -benchmem
func BenchmarkOpenAPIProjectLoad(b *testing.B) {
	for _, actions := range []bool{false, true} {
		name := "flow"
		if actions {
			name = "flow+134actions"
		}
		b.Run(name, func(b *testing.B) {
			dir := openAPIProject(b, actions)
			b.ReportAllocs()
			var p *flows.Project
			for b.Loop() {
				var err error
				if p, err = flows.Load(dir); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Plan("onboard"); err != nil {
					b.Fatal(err)
				}
			}
			// What a loaded project keeps: the document's model, not the
			// library's.
			var before, after runtime.MemStats
			p = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			p, _ = flows.Load(dir)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "MB-kept")
			runtime.KeepAlive(p)
		})
	}
}
