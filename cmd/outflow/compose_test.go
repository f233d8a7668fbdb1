package main

// docker-compose.yml cannot run here (no container engine), so these tests
// read it: TestComposeMatchesTopology checks every name and path in it
// against what Temporal's server image, Temporal's UI image and Outflow
// read, and topology_test.go starts the same services as processes with the
// environment taken from it.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/outflow-dev/outflow/worker"
)

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       string                       `yaml:"build"`
	Command     []string                     `yaml:"command"`
	Entrypoint  []string                     `yaml:"entrypoint"`
	Environment map[string]string            `yaml:"environment"`
	Volumes     []string                     `yaml:"volumes"`
	Ports       []string                     `yaml:"ports"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

const repoRoot = "../.."

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func (c composeFile) service(t *testing.T, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// composeDefault expands ${NAME:-default} the way compose does when NAME
// is unset.
var composeVar = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

func composeDefault(s string) string { return composeVar.ReplaceAllString(s, "$1") }

// mounts maps a service's container paths to where they are on this
// machine: bind mounts to the repository, named volumes to volumes[name].
func (s composeService) mounts(t *testing.T, volumes map[string]string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(composeDefault(v), ":")
		if len(parts) < 2 {
			t.Fatalf("volume %q has no container path", v)
		}
		src, dst := parts[0], parts[1]
		switch {
		case strings.HasPrefix(src, "./"):
			m[dst] = filepath.Join(repoRoot, src)
		case volumes[src] != "":
			m[dst] = volumes[src]
		default:
			t.Fatalf("volume %q: nothing on this machine stands for %q", v, src)
		}
	}
	return m
}

// hostPath rewrites a container path through mounts.
func hostPath(p string, mounts map[string]string) (string, bool) {
	for dst, src := range mounts {
		if p == dst {
			return src, true
		}
		if strings.HasPrefix(p, dst+"/") {
			return filepath.Join(src, strings.TrimPrefix(p, dst+"/")), true
		}
	}
	return p, false
}

// envNamesIn collects the names a config template reads with `env "NAME"`.
func envNamesIn(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`env "([A-Z0-9_]+)"`).FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = true
	}
	if len(names) == 0 {
		t.Fatalf("%s reads no environment variable", file)
	}
	return names
}

func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

func moduleVersion(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
}

// outflowEnv are the variables the outflow command reads: to reach Temporal,
// and for its metrics, logs, traces and payload key.
var outflowEnv = []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", worker.EnvTLSCert, worker.EnvTLSKey, worker.EnvTLSCA, worker.EnvTLSServerName, worker.EnvTLS,
	envMetricsAddr, envLogFormat, envLogLevel, envPayloadKey, "OTEL_EXPORTER_OTLP_ENDPOINT", worker.EnvGatewayKey, worker.EnvGatewayURL}

// TestComposeMatchesTopology checks docker-compose.yml against what its
// images read: the server's variables against the config template built
// into the Temporal server this module links (the one its image runs), the
// UI's against the UI server's template, the workers' against the names
// Outflow reads; the images' versions against go.mod; the certificate
// paths against what `outflow certs dev-ca` writes with the compose
// service's arguments; and every mounted file against the repository.
func TestComposeMatchesTopology(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"postgresql", "certs", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "worker", "agent", "gateway"} {
		c.service(t, name)
	}
	temporal := c.service(t, "temporal")

	serverVersion := moduleVersion(t, "go.temporal.io/server")
	for _, name := range []string{"temporal", "temporal-schema", "temporal-namespace"} {
		img := composeDefault(c.service(t, name).Image)
		if !strings.HasPrefix(img, "temporalio/") || !strings.HasSuffix(img, ":"+serverVersion) {
			t.Errorf("service %s runs %s; want an official temporalio image of the server version Outflow links, %s", name, img, serverVersion)
		}
	}
	if img := composeDefault(c.service(t, "temporal-ui").Image); img != "temporalio/ui:"+moduleVersion(t, "github.com/temporalio/ui-server/v2") {
		t.Errorf("temporal-ui runs %s; want the UI of the ui-server module in go.mod", img)
	}

	serverVars := envNamesIn(t, filepath.Join(moduleDir(t, "go.temporal.io/server"), "common", "config", "config_template_embedded.yaml"))
	for _, name := range []string{"temporal", "temporal-schema"} {
		for k := range c.service(t, name).Environment {
			if !serverVars[k] {
				t.Errorf("service %s sets %s, which Temporal's server config template does not read", name, k)
			}
		}
	}
	for _, k := range []string{"DB", "DB_PORT", "POSTGRES_SEEDS", "POSTGRES_USER", "POSTGRES_PWD", "DBNAME", "VISIBILITY_DBNAME"} {
		if a, b := temporal.Environment[k], c.service(t, "temporal-schema").Environment[k]; a == "" || a != b {
			t.Errorf("%s: temporal has %q, temporal-schema %q: the schema must be set up where the server looks", k, a, b)
		}
	}
	pg := c.service(t, "postgresql").Environment
	if pg["POSTGRES_USER"] != temporal.Environment["POSTGRES_USER"] || pg["POSTGRES_PASSWORD"] != temporal.Environment["POSTGRES_PWD"] {
		t.Errorf("postgresql's user and password (%s/%s) are not the server's (%s/%s)", pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], temporal.Environment["POSTGRES_USER"], temporal.Environment["POSTGRES_PWD"])
	}
	if temporal.Environment["POSTGRES_SEEDS"] != "postgresql" || temporal.Environment["DB_PORT"] != "5432" {
		t.Errorf("the server looks for PostgreSQL at %s:%s, not at the postgresql service", temporal.Environment["POSTGRES_SEEDS"], temporal.Environment["DB_PORT"])
	}

	port := temporal.Environment["FRONTEND_GRPC_PORT"]
	if !slices.Contains(temporal.Ports, port+":"+port) {
		t.Errorf("temporal publishes %v, not its frontend port %s", temporal.Ports, port)
	}
	uiVars := envNamesIn(t, filepath.Join(moduleDir(t, "github.com/temporalio/ui-server/v2"), "config", "docker.yaml"))
	for _, name := range []string{"worker", "agent", "gateway", "temporal-ui", "temporal-namespace"} {
		env := c.service(t, name).Environment
		if env["TEMPORAL_ADDRESS"] != "temporal:"+port {
			t.Errorf("service %s dials %q, not the frontend temporal:%s", name, env["TEMPORAL_ADDRESS"], port)
		}
		if env["TEMPORAL_TLS_SERVER_NAME"] != temporal.Environment["TEMPORAL_TLS_FRONTEND_SERVER_NAME"] {
			t.Errorf("service %s checks the frontend's certificate for %q, the server's own clients for %q", name, env["TEMPORAL_TLS_SERVER_NAME"], temporal.Environment["TEMPORAL_TLS_FRONTEND_SERVER_NAME"])
		}
		for k := range env {
			switch {
			case name == "temporal-ui" && !uiVars[k]:
				t.Errorf("temporal-ui sets %s, which the UI server's config template does not read", k)
			case (name == "worker" || name == "agent" || name == "gateway") && !slices.Contains(outflowEnv, k):
				t.Errorf("service %s sets %s, which outflow does not read (it reads %v)", name, k, outflowEnv)
			}
		}
	}
	checkComposeGateway(t, c)
	for _, name := range []string{"certs", "worker", "agent", "gateway"} {
		s := c.service(t, name)
		if s.Build != "." || s.Image != "outflow:dev" {
			t.Errorf("service %s: build %q image %q; want the project's Dockerfile (build: .) as outflow:dev", name, s.Build, s.Image)
		}
	}

	// The certificates: run the certs service's command here, then every
	// /pki path a service names must be a file it wrote.
	pki := t.TempDir()
	vols := map[string]string{"pki": pki, "postgresql-data": t.TempDir()}
	certs := c.service(t, "certs")
	args := rewritePaths(certs.Command, certs.mounts(t, vols))
	if _, stderr, code := cli(t, args...); code != 0 {
		t.Fatalf("certs service command %v: exit %d\n%s", certs.Command, code, stderr)
	}
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Services[name]
		mounts := s.mounts(t, vols)
		for k, v := range s.Environment {
			if !strings.HasPrefix(v, "/") {
				continue
			}
			p, ok := hostPath(v, mounts)
			if !ok {
				t.Errorf("service %s: %s=%s is not under any of its volumes", name, k, v)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("service %s: %s=%s: %v", name, k, v, err)
			}
		}
		for _, v := range s.Volumes {
			if src := strings.Split(composeDefault(v), ":")[0]; strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
		for _, part := range append(append([]string{}, s.Entrypoint...), s.Command...) {
			if p, ok := hostPath(part, mounts); ok {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("service %s runs with %s: %v", name, part, err)
				}
			}
		}
	}
	agent := c.service(t, "agent")
	cfgPath, _ := hostPath(agent.Command[len(agent.Command)-1], agent.mounts(t, vols))
	if _, err := worker.LoadConfig(cfgPath); err != nil {
		t.Errorf("the agent's config %s: %v", cfgPath, err)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "Dockerfile")); err != nil {
		t.Error(err)
	}
}

// rewritePaths maps container paths in a command line to this machine; a
// comma-separated flag value is left alone unless it is a path.
func rewritePaths(args []string, mounts map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i], _ = hostPath(a, mounts)
	}
	return out
}
