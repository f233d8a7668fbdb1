package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersion(t *testing.T) {
	out, errOut, code := cli(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "outflow ") || !strings.Contains(out, "go1.") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// Every command that does something shows examples in its --help.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Example == "" {
			t.Errorf("%s has no Examples section", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range newRoot().Commands() {
		walk(c)
	}
	out, _, _ := cli(t, "executions", "list", "--help")
	if !strings.Contains(out, "Examples:\n  outflow executions list") {
		t.Errorf("executions list --help:\n%s", out)
	}
}

// --address, --namespace and --payload-key are on the commands that talk
// to Temporal, and --address says what that command does without it.
func TestTemporalFlagsWhereTheyDoSomething(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--help"}, {"certs", "dev-ca", "--help"}, {"certs", "inspect", "--help"},
		{"completion", "bash", "--help"}, {"soap", "operations", "--help"},
	} {
		out, _, _ := cli(t, args...)
		for _, flag := range []string{"--address", "--namespace", "--payload-key"} {
			if strings.Contains(out, flag) {
				t.Errorf("%s shows %s:\n%s", strings.Join(args, " "), flag, out)
			}
		}
	}
	if _, errOut, code := cli(t, "validate", "--address", "127.0.0.1:7233"); code != 1 || !strings.Contains(errOut, "unknown flag: --address") {
		t.Errorf("validate --address: exit %d %s", code, errOut)
	}
	for args, want := range map[string]string{
		"executions show --help":  "else 127.0.0.1:7233, where outflow dev listens",
		"schedules list --help":   "else 127.0.0.1:7233, where outflow dev listens",
		"deploy --help":           "else 127.0.0.1:7233, where outflow dev listens",
		"run --help":              "a throwaway embedded server that stops when the command ends",
		"test --help":             "a throwaway embedded server that stops when the command ends",
		"worker --help":           "the file's temporal.address",
		"dev --help":              "--tls-cert file ",
		"codec-server --help":     "--payload-key",
		"quickstart --help":       "--namespace",
		"executions list --help":  "--since string",
		"schedules pause --help":  "--payload-key",
		"executions --help":       "--namespace",
		"server --help":           "--namespace",
		"test --help ":            "--log-level",
		"quickstart --help ":      "unless --project names another",
		"executions list --help ": "running, succeeded, failed",
	} {
		out, errOut, code := cli(t, strings.Fields(args)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want %q in:\n%s%s", args, code, want, out, errOut)
		}
		if strings.Contains(args, "executions") || strings.Contains(args, "schedules") || strings.Contains(args, "deploy") {
			if strings.Contains(out, "embedded") {
				t.Errorf("%s claims an embedded server:\n%s", args, out)
			}
		}
	}
	if out, _, _ := cli(t, "quickstart", "--help"); strings.Contains(out, "--dir") {
		t.Errorf("quickstart --help still offers --dir:\n%s", out)
	}
	if _, errOut, code := cli(t, "quickstart", "--dir", "a", "--project", "b"); code != 1 || !strings.Contains(errOut, "--dir is the old name of --project") {
		t.Errorf("quickstart --dir --project: exit %d %s", code, errOut)
	}
}

// executions list takes days like certs check does, and refuses a status
// that lists nothing, naming those there are.
func TestExecutionsListFilters(t *testing.T) {
	_, addr := scheduleStack(t)
	out, errOut, code := cli(t, "executions", "list", "--address", addr, "--since", "7d", "--status", "failed")
	if code != 0 || !strings.HasPrefix(out, "EXECUTION") {
		t.Errorf("--since 7d: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []struct{ args, want string }{
		{"--status error", `unknown status "error" (running, succeeded, failed, terminated, canceled, timed_out, continued_as_new, held)`},
		{"--since 7x", `--since "7x": want a number of days like 30d or a duration like 72h`},
		{"--since -2h", `--since "-2h"`},
	} {
		_, errOut, code := cli(t, append([]string{"executions", "list", "--address", addr}, strings.Fields(c.args)...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want %q: %s", c.args, code, c.want, errOut)
		}
	}
}

// Without --address, executions and schedules look for `outflow dev`; when
// nothing answers there, they say why a run's executions may be gone.
func TestExecutionsWithoutAServerSaysWhy(t *testing.T) {
	old := defaultDevAddress
	defaultDevAddress = "127.0.0.1:" + itoa(freePort(t)) // nothing listens there
	t.Cleanup(func() { defaultDevAddress = old })
	t.Setenv("TEMPORAL_ADDRESS", "")
	for _, args := range [][]string{{"executions", "show", "order-sync-1"}, {"executions", "list"}, {"schedules", "list"}} {
		_, errOut, code := cli(t, args...)
		for _, want := range []string{"no Temporal server at " + defaultDevAddress, "throwaway embedded server", "outflow dev", "--address", "connection refused"} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("%s: exit %d, want %q in:\n%s", strings.Join(args, " "), code, want, errOut)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
