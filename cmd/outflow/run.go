package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/worker/offline"
)

type runFlags struct {
	inputs     []string
	inputsFile string
	asJSON     bool
	id         string
	step       string
	detach     bool
	// live allows `outflow test` to call real partners where CI=true.
	live bool
	// beforeRun, when set, sees the compiled plan before anything starts;
	// an error stops the command.
	beforeRun func(plan *engine.Plan) error
	// stepsFile holds what earlier steps gave, for --step.
	stepsFile string
	// logLevel shows the embedded worker's and the SDK's logs.
	logLevel string
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
	var record bool
	cmd := &cobra.Command{
		Use:   "test [TEST|FILE|ACTION|FLOW]",
		Short: "Run the project's tests offline, or test-run an action or flow (or one step) on the real path",
		Long: `Without an argument, or given a test's name or a file of tests, test runs the
project's tests (documents of kind Test) offline: every REST and SOAP call is
answered by the test's mocks, nothing is sent over the network and no
Temporal server is needed. It prints PASS or FAIL per test, and for a failing
test what it expected and what the run gave; the exit status is 1 when any
test fails.

Given the name of an action or flow (or a file defining one), test runs it
for real, as run does, and prints its execution details; --step runs one step,
given what it reads from earlier steps with --input steps.ID.FIELD=VALUE
(a JSON value, or text) or --steps FILE.

With --record TEST, test runs the test's target for real once and writes what
the partner answered into the test's mocks, without credentials, cookies or
API keys.

The first line on stderr says which kind of run it is: "offline test run: ..."
or "live run against real partners: ...". Where CI=true, a live run is
refused unless --live is given, so that a renamed test cannot turn a CI job
into real calls. See docs/testing.md.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if record {
				if len(args) == 0 {
					return errors.New("--record needs the test to record, such as outflow test --record order-sync-ships")
				}
				return recordTestCmd(cmd, g, f, args[0])
			}
			proj, tests, isTest, err := testsToRun(g, args)
			if err != nil {
				return reportProblems(cmd, err)
			}
			if !isTest {
				f.beforeRun = func(plan *engine.Plan) error {
					what := strings.ToLower(plan.Kind) + " " + plan.Name
					if f.step != "" {
						what = "step " + f.step + " of " + what
					}
					return announceLiveRun(cmd, f, "outflow test "+args[0], what, plan)
				}
				return runPlanCmd(cmd, g, f, args[0], f.step)
			}
			if f.step != "" || len(f.inputs) > 0 || f.inputsFile != "" || f.stepsFile != "" {
				return errors.New("--step, --steps, --input and --inputs apply to a real run of an action or flow; a test's inputs are in its document")
			}
			if f.live {
				return errors.New("--live applies to a run against real partners; tests run offline, answered by their mocks")
			}
			return offlineTestCmd(cmd, proj, tests, f.asJSON)
		},
	}
	addRunFlags(cmd, f)
	cmd.Flags().StringVar(&f.step, "step", "", "run only this step; give what it reads from earlier steps with --input steps.ID.FIELD=VALUE or --steps")
	cmd.Flags().StringVar(&f.stepsFile, "steps", "", "with --step: JSON or YAML file of what earlier steps gave, as expressions see it under steps ({customer: {outputs: {id: \"7\"}}})")
	cmd.Flags().BoolVar(&record, "record", false, "run the test's target for real and save the partner's answers as its mocks")
	cmd.Flags().BoolVar(&f.live, "live", false, "allow a run against real partners (an action, a flow, --record) where CI=true")
	return cmd
}

// inCI reports whether the command runs in continuous integration: CI set
// to true, as GitHub Actions, GitLab CI and most CI services do.
func inCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// announceLiveRun prints the first line of a run that calls real partners,
// naming what runs and where it calls, after refusing it in CI without
// --live: a test renamed or misspelt must not turn a CI job into real
// requests. command is how the user asked ("outflow test lookup-customer"),
// what the run ("action lookup-customer").
func announceLiveRun(cmd *cobra.Command, f *runFlags, command, what string, plans ...*engine.Plan) error {
	calls := partnerList(plans...)
	if inCI() && !f.live {
		return fmt.Errorf("refusing a live run in CI (CI=%s): %s runs %s, which calls real partners (%s); pass --live to call them, or name a test (kind: Test) to run it offline",
			os.Getenv("CI"), command, what, calls)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "live run against real partners: %s calls %s\n", what, calls)
	return nil
}

// partnerList names the connections plans call, with their base URLs.
func partnerList(plans ...*engine.Plan) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range plans {
		names := make([]string, 0, len(p.Connections))
		for name := range p.Connections {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if c := p.Connections[name]; c != nil && !seen[name] {
				seen[name] = true
				out = append(out, fmt.Sprintf("%s at %s", name, baseURL(c)))
			}
		}
	}
	if len(out) == 0 {
		return "no connection"
	}
	return strings.Join(out, ", ")
}

// baseURL is a connection's base URL, default ports left out.
func baseURL(c *engine.Connection) string {
	host := c.Host
	if c.Port != 0 && !(c.Scheme == "https" && c.Port == 443) && !(c.Scheme == "http" && c.Port == 80) {
		host = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	return c.Scheme + "://" + host + c.BasePath
}

// testsToRun says which tests the arguments of test name: all of the
// project's without an argument, one by name, or those of a file. isTest is
// false when the argument is an action or flow to run for real instead.
func testsToRun(g *globalFlags, args []string) (proj *flows.Project, tests []string, isTest bool, err error) {
	if len(args) == 0 {
		if proj, err = openProject(g.project); err != nil {
			return nil, nil, false, err
		}
		return proj, proj.Tests(), true, nil
	}
	target := args[0]
	if file, ok := yamlFile(target); ok {
		if proj, err = loadProject(g.project, []string{target}); err != nil {
			return nil, nil, false, err
		}
		for _, d := range proj.Documents() {
			if d.Kind == flows.KindTest && filepath.Join(proj.Root(), filepath.FromSlash(d.File)) == file {
				tests = append(tests, d.Name)
			}
		}
		return proj, tests, len(tests) > 0, nil
	}
	if proj, err = openProject(g.project); err != nil {
		return nil, nil, false, err
	}
	if proj.IsTest(target) {
		return proj, []string{target}, true, nil
	}
	return proj, nil, false, nil
}

// yamlFile reports whether arg names a YAML file, and its absolute path.
func yamlFile(arg string) (string, bool) {
	st, err := os.Stat(arg)
	if err != nil || st.IsDir() || !(strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")) {
		return "", false
	}
	abs, err := filepath.Abs(arg)
	return abs, err == nil
}

func offlineTestCmd(cmd *cobra.Command, proj *flows.Project, tests []string, asJSON bool) error {
	if len(tests) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "offline test run: no tests in %s; write a document of kind: Test (see docs/testing.md)\n", proj.Root())
		return nil
	}
	n := fmt.Sprintf("%d tests", len(tests))
	if len(tests) == 1 {
		n = "test " + tests[0]
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "offline test run: %s of %s; every REST and SOAP call is answered by mocks, nothing is sent\n", n, proj.Root())
	results := offline.RunProject(cmd.Context(), tests, compileTest(proj))
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		offline.WriteText(cmd.OutOrStdout(), results)
	}
	if _, failed := offline.Counts(results); failed > 0 {
		return exitError{1}
	}
	return nil
}

// recordTestCmd runs a test's target for real and writes the partner's
// answers into the test's mocks; given a file, it records each test in it.
func recordTestCmd(cmd *cobra.Command, g *globalFlags, f *runFlags, name string) error {
	if f.step != "" || len(f.inputs) > 0 || f.inputsFile != "" {
		return errors.New("--record runs the test's target with the test's inputs; --step, --input and --inputs do not apply")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	proj, tests, isTest, err := testsToRun(g, []string{name})
	if err != nil {
		return reportProblems(cmd, err)
	}
	if !isTest {
		return fmt.Errorf("%q is not a test of the project %s", name, testList(proj.Tests()))
	}
	var agents []string
	var plans []*engine.Plan
	for _, t := range tests {
		tc, err := proj.TestCase(t)
		if err != nil {
			return err
		}
		agents = append(agents, planAgents(tc.Plan)...)
		plans = append(plans, tc.Plan)
	}
	what := "the target of test " + strings.Join(tests, ", ")
	if len(tests) > 1 {
		what = "the targets of tests " + strings.Join(tests, ", ")
	}
	if err := announceLiveRun(cmd, f, "outflow test --record "+name, what, plans...); err != nil {
		return err
	}
	errOut := cmd.ErrOrStderr()
	logger, err := commandLogger(errOut, f.logLevel)
	if err != nil {
		return err
	}
	st, err := openStack(ctx, g, stackOptions{embedWorker: true, agents: agents, log: errOut, logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	root := proj.Root()
	for _, t := range tests {
		// Recording rewrites the file, so each test is read again from it.
		if proj, err = openProject(root); err != nil {
			return reportProblems(cmd, err)
		}
		tc, err := proj.TestCase(t)
		if err != nil {
			return err
		}
		fmt.Fprintf(errOut, "recording test %s: running %s %s for real\n", t, strings.ToLower(tc.Plan.Kind), tc.Plan.Name)
		run, err := st.client.Start(ctx, tc.Plan, tc.Inputs, engine.RunOptions{})
		if err != nil {
			return err
		}
		rec, werr := st.client.Wait(ctx, run, stepPrinter(errOut))
		if rec == nil {
			return werr
		}
		// The runner turns the record into mocks; flows writes them into
		// the test's file.
		block, notes, err := offline.Fixtures(rec, tc.Plan)
		file := ""
		if err == nil {
			file, err = tc.WriteMocks(root, block)
		}
		for _, n := range notes {
			fmt.Fprintf(errOut, "  note: %s\n", n)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "recorded the mocks of test %s into %s (the run %s)\n", t, file, rec.Status)
	}
	// The mocks written must load like any other part of the project.
	if _, err := openProject(root); err != nil {
		return reportProblems(cmd, err)
	}
	return nil
}

// compileTest compiles the tests of a project for the offline runner,
// which does not read YAML itself.
func compileTest(proj *flows.Project) offline.Compile {
	return func(name string) (*engine.TestCase, error) {
		tc, err := proj.TestCase(name)
		if err != nil {
			return nil, err
		}
		return &tc.TestCase, nil
	}
}

// testList names the tests of a project for a message.
func testList(names []string) string {
	if len(names) == 0 {
		return "(it has no tests)"
	}
	return "(tests: " + strings.Join(names, ", ") + ")"
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=value (repeatable); values are converted to the declared input type")
	cmd.Flags().StringVar(&f.inputsFile, "inputs", "", "JSON or YAML file of inputs")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the whole execution record as JSON")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "also print the Temporal SDK's and the embedded worker's logs at this level: debug, info, warn or error (default: only errors the progress lines do not report)")
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
		proj, err := openProject(dir)
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
	proj, err := openProject(g.project)
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
		// The project loader's guards and value rules; never a nil map,
		// which --input would write into.
		if inputs, err = flows.ParseInputs(f.inputsFile, b); err != nil {
			return nil, fmt.Errorf("reading inputs: %w", err)
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
	var given map[string]any
	if step != "" {
		// A single step reads what earlier steps would have given it from
		// steps.…: those come apart from the inputs.
		if given, err = stepData(proj, name, f, inputs); err != nil {
			return err
		}
		plan.Inputs = engine.LooseInputs(plan.Inputs, inputs)
	} else {
		if f.stepsFile != "" {
			return errors.New("--steps gives earlier steps' data to one step run alone: add --step ID")
		}
		for k := range inputs {
			if strings.HasPrefix(k, "steps.") {
				return fmt.Errorf("--input %s: earlier steps' data is given to one step run alone (outflow test FLOW --step ID); a whole run makes its own", k)
			}
		}
	}
	if f.beforeRun != nil {
		if err := f.beforeRun(plan); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	logger, err := commandLogger(cmd.ErrOrStderr(), f.logLevel)
	if err != nil {
		return err
	}
	st, err := openStack(ctx, g, stackOptions{embedWorker: true, agents: planAgents(plan), log: cmd.ErrOrStderr(), logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	if st.server != nil && !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "embedded Temporal server at %s\n", st.server.FrontendAddress())
	}
	run, err := st.client.Start(ctx, plan, inputs, engine.RunOptions{WorkflowID: f.id, Steps: given})
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

// stepData takes what earlier steps gave out of the inputs of a one-step
// run (names steps.ID.FIELD…, values read as JSON when they are JSON, else
// as text) and out of --steps FILE, and checks that each names a step of
// the flow or action.
func stepData(proj *flows.Project, name string, f *runFlags, inputs map[string]any) (map[string]any, error) {
	steps := map[string]any{}
	if f.stepsFile != "" {
		b, err := os.ReadFile(f.stepsFile)
		if err != nil {
			return nil, err
		}
		// Read with the project loader's guards, like --inputs files.
		if steps, err = flows.ParseInputs(f.stepsFile, b); err != nil {
			return nil, fmt.Errorf("reading earlier steps' data from %s: %w", f.stepsFile, err)
		}
	}
	var paths []string
	for k := range inputs {
		if strings.HasPrefix(k, "steps.") {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	for _, k := range paths {
		v := inputs[k]
		delete(inputs, k)
		if s, ok := v.(string); ok {
			var parsed any
			if json.Unmarshal([]byte(s), &parsed) == nil {
				v = parsed
			}
		}
		if err := engine.SetStepValue(steps, strings.TrimPrefix(k, "steps."), v); err != nil {
			return nil, fmt.Errorf("--input %s: %w", k, err)
		}
	}
	full, err := proj.Plan(name)
	if err != nil {
		return nil, err
	}
	ids := engine.StepIDs(full.Steps)
	for id := range steps {
		if !slices.Contains(ids, id) {
			return nil, fmt.Errorf("steps.%s: %s %q has no step %q (steps: %s)", id, strings.ToLower(full.Kind), full.Name, id, strings.Join(ids, ", "))
		}
	}
	return steps, nil
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
// A step that holds others (an action call, a foreach, a parallel step) is
// printed after the steps inside it that ended by the same update: it ended
// after them.
func stepPrinter(w io.Writer) func(*engine.Record) {
	printed := map[string]string{}
	return func(r *engine.Record) {
		for _, s := range progressOrder(r) {
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
			line += " " + engine.FormatDuration(time.Duration(s.Duration))
			if n := len(s.Pages); n > 0 {
				line += fmt.Sprintf(" (%d pages)", n)
			}
			if s.Error != nil {
				line += "  " + s.Error.Message
			}
			fmt.Fprintln(w, line)
		}
	}
}

// progressOrder is the record's steps with each step that holds others
// moved after the last of them (the record lists a holder first, then what
// runs inside it).
func progressOrder(r *engine.Record) []*engine.StepRecord {
	holding := holderIDs(r)
	inside := func(id, holder string) bool {
		return strings.HasPrefix(id, holder+"/") || strings.HasPrefix(id, holder+"[")
	}
	out := make([]*engine.StepRecord, 0, len(r.Steps))
	var open []*engine.StepRecord
	for _, s := range r.Steps {
		for len(open) > 0 && !inside(s.ID, open[len(open)-1].ID) {
			out = append(out, open[len(open)-1])
			open = open[:len(open)-1]
		}
		if holding[s.ID] {
			open = append(open, s)
		} else {
			out = append(out, s)
		}
	}
	for i := len(open) - 1; i >= 0; i-- {
		out = append(out, open[i])
	}
	return out
}

// holderIDs are the paths of the record's steps that hold others: every
// prefix of a step path that ends before a "/" or "[" ("ack" and "ack[2]"
// of "ack[2]/post").
func holderIDs(r *engine.Record) map[string]bool {
	out := map[string]bool{}
	for _, s := range r.Steps {
		for i := 0; i < len(s.ID); i++ {
			if s.ID[i] == '/' || s.ID[i] == '[' {
				out[s.ID[:i]] = true
			}
		}
	}
	return out
}

var _ = context.Background
