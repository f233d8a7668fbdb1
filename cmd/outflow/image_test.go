package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerfileBuild returns the arguments of the Dockerfile's `go build` and
// the environment it sets for the build (ENV lines of the build stage).
func dockerfileBuild(t *testing.T) (args []string, env map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	env = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "ENV "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
		if i := strings.Index(line, " go build "); i >= 0 && strings.HasPrefix(line, "RUN ") {
			args = strings.Fields(line[i+len(" go build "):])
		}
	}
	if args == nil {
		t.Fatal("the Dockerfile has no RUN ... go build line")
	}
	return args, env
}

// TestWorkerImageBuild builds the outflow binary the way the Dockerfile
// does (its go build arguments and environment, read from the file) and
// checks that it is statically linked, links no Temporal server or UI code,
// and does what the compose services built from the image ask of it.
func TestWorkerImageBuild(t *testing.T) {
	args, env := dockerfileBuild(t)
	if env["CGO_ENABLED"] != "0" {
		t.Errorf("the Dockerfile builds with CGO_ENABLED=%q, want 0 (a static binary)", env["CGO_ENABLED"])
	}
	joined := " " + strings.Join(args, " ") + " "
	tags := regexp.MustCompile(` -tags[ =](\S+) `).FindStringSubmatch(joined)
	if tags == nil || !strings.Contains(tags[1], "noserver") {
		t.Fatalf("the Dockerfile's go build %v does not set -tags noserver", args)
	}
	deps, err := exec.Command("go", "list", "-deps", "-tags", tags[1], ".").Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %s: %v", tags[1], err)
	}
	for _, pkg := range strings.Fields(string(deps)) {
		for _, banned := range []string{"go.temporal.io/server/", "github.com/temporalio/ui-server/", "github.com/outflow-dev/outflow/worker/devserver", "modernc.org/sqlite"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the noserver build links %s", pkg)
			}
		}
	}
	if testing.Short() {
		t.Skip("builds the image's binary")
	}

	// Through the shell, as Docker runs a RUN line.
	out := filepath.Join(t.TempDir(), "outflow")
	for i := range args {
		if i > 0 && args[i-1] == "-o" {
			args[i] = out
		}
	}
	build := exec.Command("sh", "-c", "go build "+strings.Join(args, " "))
	build.Dir = repoRoot
	build.Env = os.Environ()
	for k, v := range env {
		build.Env = append(build.Env, k+"="+v)
	}
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names a dynamic loader: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	f.Close()
	small, _ := os.Stat(out)
	full, _ := os.Stat(outflowBinary(t))
	t.Logf("image binary (noserver, -s -w) %.1f MB; full outflow (embedded server and UI, with symbols) %.1f MB",
		float64(small.Size())/1e6, float64(full.Size())/1e6)

	// What the compose services of this image run.
	help, err := exec.Command(out, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, help)
	}
	for _, cmd := range []string{"worker", "certs", "run", "executions"} {
		if !regexp.MustCompile(`(?m)^\s+` + cmd + `\s`).Match(help) {
			t.Errorf("the image's outflow lacks the %s command:\n%s", cmd, help)
		}
	}
	for _, cmd := range []string{"dev", "server"} {
		if regexp.MustCompile(`(?m)^\s+` + cmd + `\s`).Match(help) {
			t.Errorf("the image's outflow has the %s command, which needs the embedded server", cmd)
		}
	}
	pki := t.TempDir()
	if b, err := exec.Command(out, "certs", "dev-ca", pki, "--client", "worker").CombinedOutput(); err != nil {
		t.Fatalf("certs dev-ca: %v\n%s", err, b)
	}
	run := exec.Command(out, "run", quickstartFlow, "--project", filepath.Join(repoRoot, "examples", "quickstart"))
	run.Env = append(os.Environ(), "TEMPORAL_ADDRESS=")
	b, err := run.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "built without the embedded Temporal server") || !strings.Contains(string(b), "TEMPORAL_ADDRESS") {
		t.Errorf("run without an address on the noserver build: %v\n%s", err, b)
	}
}
