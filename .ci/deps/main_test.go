package main

import (
	"strings"
	"testing"
)

// TestCheck runs the rules over a made-up module: each forbidden import is
// reported once, allowed ones are not.
func TestCheck(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	pkgs := map[string][]string{
		m("engine"):           {m("engine/wsdl"), "go.temporal.io/sdk/workflow"},
		m("engine/wsdl"):      {"encoding/xml"},
		m("flows"):            {m("engine"), m("engine/wsdl"), "go.temporal.io/sdk/client"},
		m("steps/rest"):       {m("engine"), "go.temporal.io/sdk/activity", "go.temporal.io/sdk/workflow"},
		m("steps/soap"):       {m("steps/rest"), m("flows")},
		m("worker"):           {m("steps"), m("flows"), m("cmd/outflow")},
		m("worker/devserver"): {"go.temporal.io/server/temporal"},
		m("cmd/outflow"):      {m("worker"), m("flows"), m("worker/devserver")},
		m("bench"):            {m("worker/devserver")},
		m("examples/partner"): {m("worker/devserver"), m("steps/keystore/devpki")},
		m("engine/x"):         {m("steps")},
		m("steps/httpcall"):   {m("engine"), m("steps/secrets"), m("steps/rest")},
		m("steps/telemetry"):  {m("steps/httpcall"), m("steps/rest")},
		m("steps/mock"):       {m("steps/httpcall"), m("steps/oauth2")},
		m("steps/mock/x"):     {m("steps/rest/echotest")},
		m("steps/restx"):      {m("steps/rest")},
	}
	var got []string
	for _, v := range check(pkgs) {
		got = append(got, v.From+" "+v.Import)
	}
	want := []string{
		"engine/x steps",
		"examples/partner worker/devserver",
		"flows go.temporal.io/sdk/client",
		"steps/httpcall steps/rest",
		"steps/mock/x steps/rest/echotest",
		"steps/rest go.temporal.io/sdk/workflow",
		"steps/soap flows",
		"steps/soap steps/rest",
		"steps/telemetry steps/rest",
		"worker cmd/outflow",
		"worker flows",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"engine/...", module + "/engine", true},
		{"engine/...", module + "/engine/wsdl", true},
		{"engine/...", module + "/enginex", false},
		{"engine/...", "engine", false}, // a standard-library-like path is not ours
		{"go.temporal.io/sdk/...", "go.temporal.io/sdk/workflow", true},
		{"go.temporal.io/sdk/workflow", "go.temporal.io/sdk/workflowcheck", false},
		{"...", module + "/worker", true},
		{"...", "fmt", false},
		{"bench", module + "/bench", true},
		{"bench", module + "/bench/x", false},
	} {
		if got := match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}
