package main

// Recovering executions: retry from a step, resume a held step, cancel,
// terminate; one execution by ID or many by query (docs/operations.md).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
)

// operatorIdentity is who the CLI says did an operation: OUTFLOW_IDENTITY,
// else user@host.
func operatorIdentity() string {
	if id := strings.TrimSpace(os.Getenv("OUTFLOW_IDENTITY")); id != "" {
		return id
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}

// bulkFlags select executions by query instead of by ID.
type bulkFlags struct {
	flow   string
	status string
	since  string
	limit  int
	dryRun bool
	yes    bool
}

func (b *bulkFlags) add(cmd *cobra.Command, status string) {
	cmd.Flags().StringVar(&b.flow, "flow", "", "all executions of this flow (instead of an ID)")
	cmd.Flags().StringVar(&b.status, "status", status, "with this status (with --flow or --since)")
	cmd.Flags().StringVar(&b.since, "since", "", "started within this long: days (7d) or a duration (24h)")
	cmd.Flags().IntVar(&b.limit, "limit", 1000, "at most this many executions")
	cmd.Flags().BoolVar(&b.dryRun, "dry-run", false, "show what would be touched and do nothing")
	cmd.Flags().BoolVar(&b.yes, "yes", false, "do not ask for confirmation")
}

func (b *bulkFlags) bulk() bool { return b.flow != "" || b.since != "" }

func (b *bulkFlags) options() (engine.ListOptions, error) {
	o := engine.ListOptions{Flow: b.flow, Status: b.status, Limit: b.limit}
	if b.since != "" {
		d, err := parseDays("since", b.since)
		if err != nil {
			return o, err
		}
		o.Since = d
	}
	return o, o.Check()
}

// targets lists the executions a command acts on: the IDs given, or the
// ones the query finds, after showing them and asking (unless --yes);
// nil with a nil error means nothing is to be done.
func (b *bulkFlags) targets(cmd *cobra.Command, st *stack, verb string, args []string) ([]string, error) {
	if !b.bulk() {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s: give one execution ID, or select many with --flow/--status/--since", verb)
		}
		return args, nil
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: give an execution ID or --flow/--since, not both", verb)
	}
	o, err := b.options()
	if err != nil {
		return nil, err
	}
	exs, err := st.client.List(cmd.Context(), o)
	if err != nil {
		return nil, err
	}
	out := cmd.OutOrStdout()
	if verb == "retry" {
		// An execution retried already is not retried again by a query:
		// its retry is the one to look at.
		kept := exs[:0]
		for _, e := range exs {
			if len(e.RetriedBy) > 0 {
				fmt.Fprintf(out, "  %s  already retried by %s: left alone\n", e.WorkflowID, strings.Join(e.RetriedBy, ", "))
				continue
			}
			kept = append(kept, e)
		}
		exs = kept
	}
	if len(exs) == 0 {
		fmt.Fprintf(out, "%s: no executions match\n", verb)
		return nil, nil
	}
	fmt.Fprintf(out, "%s will touch %d execution(s):\n", verb, len(exs))
	ids := make([]string, len(exs))
	for i, e := range exs {
		ids[i] = e.WorkflowID
		fmt.Fprintf(out, "  %s  %s  %s  %s\n", e.WorkflowID, e.Flow, e.Status, e.Start.Local().Format(time.DateTime))
	}
	if b.dryRun {
		fmt.Fprintln(out, "dry run: nothing done")
		return nil, nil
	}
	if !b.yes {
		ok, err := confirm(cmd.InOrStdin(), out, fmt.Sprintf("%s %d execution(s)? [y/N] ", verb, len(exs)))
		if err != nil {
			return nil, err
		}
		if !ok {
			fmt.Fprintln(out, "nothing done")
			return nil, nil
		}
	}
	return ids, nil
}

func confirm(in io.Reader, out io.Writer, prompt string) (bool, error) {
	fmt.Fprint(out, prompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("no answer to the confirmation (give --yes to act without asking): %w", err)
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func recoveryCmds(g *globalFlags) []*cobra.Command {
	return []*cobra.Command{retryCmd(g), resumeCmd(g), cancelCmd(g), terminateCmd(g)}
}

func retryCmd(g *globalFlags) *cobra.Command {
	var (
		from, planSrc, reason, id string
		wait, asJSON              bool
		b                         bulkFlags
	)
	cmd := &cobra.Command{
		Use:   "retry [ID]",
		Short: "Run a failed, terminated or timed-out execution again from its failed step, keeping the results of the steps before it",
		Long: `Retry starts a new execution, linked to the old one (retried_from, retried_by),
that carries the results of the steps before the failed step (or --from STEP) and
runs the rest: the partners of the carried steps are not called again.
--plan original (default) runs the old execution's own definition of the flow;
--plan current compiles the flow from the project (--project) and checks it fits
what the old execution completed. Many at once: --flow NAME --status failed --since 24h.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if planSrc != engine.RetryPlanOriginal && planSrc != engine.RetryPlanCurrent {
				return fmt.Errorf("retry: --plan %q: want original or current", planSrc)
			}
			if b.bulk() && id != "" {
				return fmt.Errorf("retry: --id names the retry of one execution; not with --flow or --since")
			}
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			targets, err := b.targets(cmd, st, "retry", args)
			if err != nil || targets == nil {
				return err
			}
			var current func(flow string) (*engine.Plan, error)
			if planSrc == engine.RetryPlanCurrent {
				proj, err := openProject(g.project)
				if err != nil {
					return err
				}
				current = proj.Plan
			}
			if len(targets) == 1 {
				return retryOne(cmd, cmd.OutOrStdout(), st, targets[0], from, id, reason, current, wait, asJSON)
			}
			// Many: a few at a time (each reads the old execution by a
			// replay on a worker, then starts the retry).
			var (
				mu       sync.Mutex
				wg       sync.WaitGroup
				failures int
				sem      = make(chan struct{}, bulkRetryConcurrency)
				out      = &lockedWriter{w: cmd.OutOrStdout()}
			)
			if current != nil {
				plan := current
				current = func(flow string) (*engine.Plan, error) {
					mu.Lock()
					defer mu.Unlock()
					return plan(flow)
				}
			}
			for _, t := range targets {
				wg.Add(1)
				sem <- struct{}{}
				go func(t string) {
					defer wg.Done()
					defer func() { <-sem }()
					if err := retryOne(cmd, out, st, t, from, "", reason, current, false, asJSON); err != nil {
						mu.Lock()
						failures++
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", t, err)
						mu.Unlock()
					}
				}(t)
			}
			wg.Wait()
			if failures > 0 {
				return fmt.Errorf("retry: %d of %d execution(s) not retried", failures, len(targets))
			}
			return nil
		},
	}
	cmd.Example = `  outflow executions retry order-sync-1763870000000000000
  outflow executions retry order-sync-1763870000000000000 --from book --plan current --reason "fixed the mapping"
  outflow executions retry --flow order-sync --status failed --since 24h --dry-run
  outflow executions retry --flow order-sync --status failed --since 24h --yes`
	cmd.Flags().StringVar(&from, "from", "", "the top-level step to run again from (default: the step that failed)")
	cmd.Flags().StringVar(&planSrc, "plan", engine.RetryPlanOriginal, "original (the old execution's definition) or current (the project's)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the execution")
	cmd.Flags().StringVar(&id, "id", "", "workflow ID of the new execution (default: <flow>-<unix nanos>)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the retry to end and show its record")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was started as JSON")
	b.add(cmd, engine.StatusFailed)
	return cmd
}

// bulkRetryConcurrency is how many retries of a bulk retry are prepared
// and started at the same time.
const bulkRetryConcurrency = 8

// lockedWriter serializes the lines of concurrent retries.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func retryOne(cmd *cobra.Command, out io.Writer, st *stack, target, from, id, reason string, current func(string) (*engine.Plan, error), wait, asJSON bool) error {
	ctx := cmd.Context()
	o := engine.RetryOptions{From: from, WorkflowID: id, Identity: operatorIdentity(), Reason: reason, Current: current}
	r, in, err := st.client.PrepareRetry(ctx, target, o)
	if err != nil {
		return err
	}
	run, err := st.client.StartRetry(ctx, r, in)
	if err != nil {
		return err
	}
	if asJSON {
		_ = json.NewEncoder(out).Encode(r)
	} else {
		fmt.Fprintf(out, "retrying %s from step %s (%s plan) as %s: carried %s; running %s\n",
			target, r.From, r.Plan, r.WorkflowID, listOrNone(r.Carried), strings.Join(r.Runs, ", "))
		if r.Schedule != "" {
			fmt.Fprintf(out, "recorded against schedule %s, outside its overlap policy (executions list --schedule %s)\n", r.Schedule, r.Schedule)
		}
	}
	if !wait {
		return nil
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if rec != nil {
		rec.WriteText(out, false)
	}
	return err
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// parseKVs reads k=v pairs; a value that is JSON (a number, true, an
// object) is taken as such, any other as a string.
func parseKVs(flag string, kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE", flag, kv)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		out[strings.TrimSpace(k)] = val
	}
	return out, nil
}

func resumeCmd(g *globalFlags) *cobra.Command {
	var (
		retry, skip, fail bool
		inputs, outputs   []string
		reason, step      string
	)
	cmd := &cobra.Command{
		Use:   "resume ID (--retry [--input k=v ...] | --skip [--output k=v ...] | --fail [--reason TEXT])",
		Short: "Decide on a held execution: retry the held step, skip it, or fail it",
		Long: `A step with hold_on_failure that failed after its retries holds its execution
(status held) until an operator decides:
  --retry   call the step again; --input NAME=VALUE overrides what its expressions
            read as inputs.NAME, for that attempt
  --skip    go on without it; --output NAME=VALUE is what later steps read as
            steps.ID.outputs.NAME
  --fail    fail the step (and the flow, unless a catch handles it), with --reason`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			d := engine.ResumeDecision{Step: step, Reason: reason, Identity: operatorIdentity()}
			for _, c := range []struct {
				on     bool
				action string
			}{{retry, engine.ResumeRetry}, {skip, engine.ResumeSkip}, {fail, engine.ResumeFail}} {
				if c.on {
					n++
					d.Action = c.action
				}
			}
			if n != 1 {
				return fmt.Errorf("resume: give one of --retry, --skip and --fail")
			}
			var err error
			if d.Inputs, err = parseKVs("input", inputs); err != nil {
				return err
			}
			if d.Outputs, err = parseKVs("output", outputs); err != nil {
				return err
			}
			if len(d.Inputs) > 0 && !retry {
				return fmt.Errorf("resume: --input goes with --retry")
			}
			if len(d.Outputs) > 0 && !skip {
				return fmt.Errorf("resume: --output goes with --skip")
			}
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			out, err := st.client.Resume(cmd.Context(), args[0], d)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", args[0], out)
			return nil
		},
	}
	cmd.Example = `  outflow executions list --status held
  outflow executions resume order-sync-1763870000000000000 --retry --input customer_id=8
  outflow executions resume order-sync-1763870000000000000 --skip --output ref=MANUAL-17 --reason "booked by phone"
  outflow executions resume order-sync-1763870000000000000 --fail --reason "order withdrawn"`
	cmd.Flags().BoolVar(&retry, "retry", false, "call the held step again")
	cmd.Flags().BoolVar(&skip, "skip", false, "skip the held step")
	cmd.Flags().BoolVar(&fail, "fail", false, "fail the held step")
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "with --retry: NAME=VALUE the step reads as inputs.NAME (repeatable)")
	cmd.Flags().StringArrayVar(&outputs, "output", nil, "with --skip: NAME=VALUE later steps read as steps.ID.outputs.NAME (repeatable)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the execution")
	cmd.Flags().StringVar(&step, "step", "", "the held step's path, when several are held")
	return cmd
}

func cancelCmd(g *globalFlags) *cobra.Command {
	var (
		reason string
		b      bulkFlags
	)
	cmd := &cobra.Command{
		Use:   "cancel [ID]",
		Short: "Cancel a running execution: the running step is canceled and finally steps run",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return stopExecutions(cmd, g, &b, args, "cancel", reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the execution")
	cmd.Example = `  outflow executions cancel order-sync-1763870000000000000 --reason "superseded"
  outflow executions cancel --flow order-sync --status held --dry-run`
	b.add(cmd, engine.StatusRunning)
	return cmd
}

func terminateCmd(g *globalFlags) *cobra.Command {
	var (
		reason string
		b      bulkFlags
	)
	cmd := &cobra.Command{
		Use:   "terminate [ID] --reason TEXT",
		Short: "End a running execution at once: nothing more of it runs, not even finally steps",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("terminate: give --reason: it is recorded with the execution")
			}
			return stopExecutions(cmd, g, &b, args, "terminate", reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the execution (required)")
	cmd.Example = `  outflow executions terminate order-sync-1763870000000000000 --reason "runaway loop"
  outflow executions terminate --flow order-sync --since 2h --reason "bad deploy" --yes`
	b.add(cmd, engine.StatusRunning)
	return cmd
}

func stopExecutions(cmd *cobra.Command, g *globalFlags, b *bulkFlags, args []string, verb, reason string) error {
	st, err := remoteStack(cmd, g)
	if err != nil {
		return err
	}
	defer st.Close()
	targets, err := b.targets(cmd, st, verb, args)
	if err != nil || targets == nil {
		return err
	}
	ctx, out, who := cmd.Context(), cmd.OutOrStdout(), operatorIdentity()
	if len(targets) > 1 {
		jobs, err := st.client.Batch(ctx, verb, targets, who, reason)
		if err == nil {
			fmt.Fprintf(out, "%s: batch operation %s done for %d execution(s)\n", verb, strings.Join(jobs, ", "), len(targets))
			return nil
		}
		if !errors.Is(err, engine.ErrNoBatch) {
			return fmt.Errorf("%s: %w", verb, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v; one by one\n", verb, err)
	}
	failures := 0
	for _, id := range targets {
		var err error
		if verb == "cancel" {
			err = st.client.Cancel(ctx, id, who, reason)
		} else {
			err = st.client.Terminate(ctx, id, who, reason)
		}
		if err != nil {
			if len(targets) == 1 {
				return err
			}
			failures++
			fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
			continue
		}
		fmt.Fprintf(out, "%s: %s requested\n", id, verb)
	}
	if failures > 0 {
		return fmt.Errorf("%s: %d of %d execution(s) failed", verb, failures, len(targets))
	}
	return nil
}

// retryLinks is what a listing says of an execution's retries.
func retryLinks(e engine.Execution) string {
	var parts []string
	if e.RetriedFrom != "" {
		parts = append(parts, "retry of "+e.RetriedFrom)
	}
	if len(e.RetriedBy) > 0 {
		parts = append(parts, "retried by "+strings.Join(e.RetriedBy, ", "))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}
