package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

type runFlags struct {
	inputs     []string
	inputsFile string
	asJSON     bool
	id         string
	step       string
	detach     bool
}

func runCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run FLOW",
		Short: "Run a flow (a name in the project or a YAML file) and print its execution record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlanCmd(cmd, g, f, args[0], "")
		},
	}
	addRunFlags(cmd, f)
	cmd.Flags().StringVar(&f.id, "id", "", "workflow id (default: <flow>-<time>)")
	cmd.Flags().BoolVar(&f.detach, "detach", false, "start the flow and return its id without waiting (needs --address)")
	return cmd
}

func testCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "test ACTION|FLOW",
		Short: "Test-run an action or flow (or one step of it) on the real path and print its execution details",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlanCmd(cmd, g, f, args[0], f.step)
		},
	}
	addRunFlags(cmd, f)
	cmd.Flags().StringVar(&f.step, "step", "", "run only this step; give what it reads from earlier steps with --input")
	return cmd
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=value (repeatable); values are converted to the declared input type")
	cmd.Flags().StringVar(&f.inputsFile, "inputs", "", "JSON or YAML file of inputs")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the whole execution record as JSON")
}

// resolveTarget turns FLOW (a name or a YAML file) into a project and a name.
func resolveTarget(g *globalFlags, target string) (*flows.Project, string, error) {
	if st, err := os.Stat(target); err == nil && !st.IsDir() && (strings.HasSuffix(target, ".yaml") || strings.HasSuffix(target, ".yml")) {
		dir := g.project
		absFile, _ := filepath.Abs(target)
		absDir, _ := filepath.Abs(dir)
		if !strings.HasPrefix(absFile, absDir+string(filepath.Separator)) {
			dir = filepath.Dir(target)
		}
		proj, err := flows.Load(dir)
		if err != nil {
			return nil, "", err
		}
		for _, d := range proj.Documents() {
			if (d.Kind == "Flow" || d.Kind == "Action") && filepath.Join(proj.Root(), filepath.FromSlash(d.File)) == absFile {
				return proj, d.Name, nil
			}
		}
		return nil, "", fmt.Errorf("%s defines no Flow or Action", target)
	}
	proj, err := flows.Load(g.project)
	if err != nil {
		return nil, "", err
	}
	return proj, target, nil
}

func parseInputs(f *runFlags) (map[string]any, error) {
	inputs := map[string]any{}
	if f.inputsFile != "" {
		b, err := os.ReadFile(f.inputsFile)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(b, &inputs); err != nil {
			return nil, fmt.Errorf("reading inputs from %s: %w", f.inputsFile, err)
		}
	}
	for _, kv := range f.inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want name=value", kv)
		}
		inputs[k] = v
	}
	return inputs, nil
}

func runPlanCmd(cmd *cobra.Command, g *globalFlags, f *runFlags, target, step string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	proj, name, err := resolveTarget(g, target)
	if err != nil {
		return reportProblems(cmd, err)
	}
	var plan *engine.Plan
	if step != "" {
		plan, err = proj.StepPlan(name, step)
	} else {
		plan, err = proj.Plan(name)
	}
	if err != nil {
		return reportProblems(cmd, err)
	}
	inputs, err := parseInputs(f)
	if err != nil {
		return err
	}
	if step != "" {
		// A single step reads what earlier steps would have given it from
		// the inputs; the plan declares none, so accept them all.
		plan.Inputs = nil
		for k := range inputs {
			plan.Inputs = append(plan.Inputs, engine.InputSpec{Name: k})
		}
	}
	out := cmd.OutOrStdout()
	st, err := openStack(ctx, g, stackOptions{embedWorker: true, agents: planAgents(plan), log: cmd.ErrOrStderr()})
	if err != nil {
		return err
	}
	defer st.Close()
	if st.server != nil && !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "embedded Temporal server at %s\n", st.server.FrontendAddress())
	}
	run, err := st.client.Start(ctx, plan, inputs, engine.RunOptions{WorkflowID: f.id})
	if err != nil {
		return err
	}
	if f.detach {
		if st.server != nil {
			return errors.New("--detach needs --address: an embedded server stops when this command ends")
		}
		fmt.Fprintln(out, run.GetID())
		return nil
	}
	var progress func(*engine.Record)
	if !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "started %s %s as %s\n", strings.ToLower(plan.Kind), plan.Name, run.GetID())
		progress = stepPrinter(cmd.ErrOrStderr())
	}
	rec, werr := st.client.Wait(ctx, run, progress)
	if rec == nil {
		return werr
	}
	if progress != nil {
		progress(rec)
	}
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rec)
	} else {
		fmt.Fprintln(out)
		rec.WriteText(out, true)
	}
	if werr != nil || rec.Status != engine.StatusSucceeded {
		return exitError{1}
	}
	return nil
}

func planAgents(p *engine.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Connections {
		if c.Agent != "" && !seen[c.Agent] {
			seen[c.Agent] = true
			out = append(out, c.Agent)
		}
	}
	return out
}

// stepPrinter prints each step once when it ends (and when it starts waiting).
func stepPrinter(w io.Writer) func(*engine.Record) {
	printed := map[string]string{}
	return func(r *engine.Record) {
		for _, s := range r.Steps {
			if printed[s.ID] == s.Status {
				continue
			}
			printed[s.ID] = s.Status
			switch s.Status {
			case engine.StatusRunning:
				continue
			case engine.StatusWaiting:
				fmt.Fprintf(w, "  … %s: %s\n", s.ID, s.Error.Message)
				continue
			}
			mark := "✓"
			switch s.Status {
			case engine.StatusFailed:
				mark = "✗"
			case engine.StatusSkipped:
				mark = "-"
			}
			line := fmt.Sprintf("  %s %-24s %-8s", mark, s.ID, s.Status)
			if s.Response != nil {
				line += fmt.Sprintf(" %d", s.Response.StatusCode)
			}
			line += fmt.Sprintf(" %s", time.Duration(s.Duration).Round(100*time.Microsecond))
			if s.Error != nil {
				line += "  " + s.Error.Message
			}
			fmt.Fprintln(w, line)
		}
	}
}

var _ = context.Background
