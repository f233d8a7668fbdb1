package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/worker"
)

// checkComposeGateway: the gateway service checks callbacks with the key
// the worker signs them with, publishes the port it listens on, serves the
// project the worker runs, and runs a command outflow accepts.
func checkComposeGateway(t *testing.T, c composeFile) {
	t.Helper()
	gw, w := c.service(t, "gateway"), c.service(t, "worker")
	if k := gw.Environment[worker.EnvGatewayKey]; k == "" || k != w.Environment[worker.EnvGatewayKey] {
		t.Errorf("gateway has %s=%q, the worker %q: callbacks signed by the worker would be refused", worker.EnvGatewayKey, k, w.Environment[worker.EnvGatewayKey])
	}
	i := slices.Index(gw.Command, "--listen")
	if len(gw.Command) == 0 || gw.Command[0] != "gateway" || i < 0 || i+1 >= len(gw.Command) {
		t.Fatalf("gateway command %v: want outflow gateway --listen ADDR", gw.Command)
	}
	port := gw.Command[i+1][strings.LastIndex(gw.Command[i+1], ":")+1:]
	if !slices.Contains(gw.Ports, port+":"+port) {
		t.Errorf("gateway listens on %s but publishes %v", port, gw.Ports)
	}
	if url := composeDefault(w.Environment[worker.EnvGatewayURL]); !strings.HasSuffix(url, ":"+port) {
		t.Errorf("the worker's callback URLs point at %q, not the gateway's published port %s", url, port)
	}
	project := func(s composeService) string {
		for _, v := range s.Volumes {
			if strings.HasSuffix(v, ":/project:ro") {
				return v
			}
		}
		return ""
	}
	if p := project(gw); p == "" || p != project(w) {
		t.Errorf("gateway mounts project %q, the worker %q: its webhooks would start flows of another project", p, project(w))
	}
	// Every flag of the command is one outflow gateway takes.
	if _, stderr, code := cli(t, append(append([]string{}, gw.Command...), "--help")...); code != 0 {
		t.Errorf("outflow %v --help: exit %d\n%s", gw.Command, code, stderr)
	}
}
