package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

func deployCmd(g *globalFlags) *cobra.Command {
	var (
		prune, dryRun, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Make the Temporal Schedules of the namespace match the project's triggers: create, update, delete",
		Long: `Deploy turns every "triggers: - schedule:" of the project's flows into a Temporal
Schedule with id outflow:<flow>:<index>. It creates missing schedules, updates those
whose trigger, flow or inputs changed, leaves the others alone, and deletes the
schedules this project deployed earlier whose flow or trigger is gone (--prune,
on by default; --prune=false keeps them and reports them as stale). Schedules
with other ids, or deployed by another project, are never touched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, err := openProject(g.project)
			if err != nil {
				return reportProblems(cmd, err)
			}
			dep, err := deployment(proj)
			if err != nil {
				return reportProblems(cmd, err)
			}
			dep.Prune, dep.DryRun = prune, dryRun
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			changes, err := st.client.Deploy(cmd.Context(), dep)
			if asJSON {
				if changes == nil {
					changes = []engine.ScheduleChange{}
				}
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(changes)
			} else {
				printChanges(cmd.OutOrStdout(), changes, "", dryRun)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", true, "delete this project's schedules whose flow or trigger is gone")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// deployment compiles every flow of a project for Deploy.
func deployment(proj *flows.Project) (engine.Deployment, error) {
	d := engine.Deployment{Project: projectName(proj)}
	for _, name := range proj.Names().Flows {
		plan, err := proj.Plan(name)
		if err != nil {
			return d, err
		}
		d.Plans = append(d.Plans, plan)
	}
	return d, nil
}

// projectName is the name in the project's settings file, else the name of
// its folder: what tells its schedules from another project's.
func projectName(proj *flows.Project) string {
	for _, d := range proj.Documents() {
		if d.Kind == flows.KindProject && d.Name != "" {
			return d.Name
		}
	}
	return filepath.Base(proj.Root())
}

// printChanges writes one line per schedule and a count of each kind of
// change. prefix starts every line (outflow dev lines its output up).
func printChanges(w io.Writer, changes []engine.ScheduleChange, prefix string, dryRun bool) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Action]++
		state := ""
		if c.Paused {
			state = "paused"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", prefix, c.Action, c.ID, c.When, state)
	}
	_ = tw.Flush()
	if len(changes) == 0 {
		fmt.Fprintf(w, "%sno schedules: no flow of the project has a schedule trigger\n", prefix)
		return
	}
	var parts []string
	for _, a := range []string{engine.ScheduleCreated, engine.ScheduleUpdated, engine.ScheduleUnchanged, engine.ScheduleDeleted, engine.ScheduleStale} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	suffix := ""
	if dryRun {
		suffix = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "%s%d %s: %s%s\n", prefix, len(changes), plural(len(changes), "schedule", "schedules"), strings.Join(parts, ", "), suffix)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func schedulesCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "List, pause, unpause, trigger and backfill the schedules `outflow deploy` made",
		Long: `Schedules are named by id (outflow:<flow>:<index>) or by flow; a flow name stands
for all of its schedules, and trigger and backfill want a flow with exactly one.`,
	}
	var (
		flow   string
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the namespace's Outflow schedules: when they run, whether paused, the next and the last run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			infos, err := st.client.Schedules(cmd.Context(), flow)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tWHEN\tSTATE\tOVERLAP\tNEXT RUN\tLAST RUN\tLAST RETRY\tNOTE")
			for _, s := range infos {
				state := "active"
				note := ""
				if s.Paused {
					state, note = "paused", s.Note
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, orDash(s.When), state, s.Overlap, timeOrDash(s.Next), timeOrDash(s.Last), lastRetry(s.LastRetry), note)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&flow, "flow", "", "only the schedules of this flow")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var pauseNote string
	pause := &cobra.Command{
		Use:   "pause FLOW|ID...",
		Short: "Stop schedules from starting runs until they are unpaused; a deploy keeps them paused",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachSchedule(cmd, g, args, "paused", func(ctx context.Context, c *engine.Client, id string) error {
				return c.PauseSchedule(ctx, id, pauseNote)
			})
		},
	}
	pause.Flags().StringVar(&pauseNote, "note", "", "why (shown by schedules list)")

	var unpauseNote string
	unpause := &cobra.Command{
		Use:   "unpause FLOW|ID...",
		Short: "Let paused schedules start runs again (runs missed while paused are not started)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachSchedule(cmd, g, args, "unpaused", func(ctx context.Context, c *engine.Client, id string) error {
				return c.UnpauseSchedule(ctx, id, unpauseNote)
			})
		},
	}
	unpause.Flags().StringVar(&unpauseNote, "note", "", "why (shown by schedules list)")

	var triggerOverlap string
	trigger := &cobra.Command{
		Use:   "trigger FLOW|ID",
		Short: "Start a run of a schedule now, paused or not",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return oneSchedule(cmd, g, args[0], func(ctx context.Context, c *engine.Client, id string) (string, error) {
				if err := c.TriggerSchedule(ctx, id, triggerOverlap); err != nil {
					return "", err
				}
				return fmt.Sprintf("triggered %s\n", id), nil
			})
		},
	}
	trigger.Flags().StringVar(&triggerOverlap, "overlap", "", "overlap policy for this run (default: the schedule's)")

	var (
		start, end, backfillOverlap string
	)
	backfill := &cobra.Command{
		Use:   "backfill FLOW|ID --start TIME --end TIME",
		Short: "Start now the runs a schedule would have started between two times (RFC 3339)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := time.Parse(time.RFC3339, start)
			if err != nil {
				return fmt.Errorf("--start %q: want an RFC 3339 time such as 2025-06-01T00:00:00Z", start)
			}
			to, err := time.Parse(time.RFC3339, end)
			if err != nil {
				return fmt.Errorf("--end %q: want an RFC 3339 time such as 2025-06-02T00:00:00Z", end)
			}
			return oneSchedule(cmd, g, args[0], func(ctx context.Context, c *engine.Client, id string) (string, error) {
				if err := c.BackfillSchedule(ctx, id, from, to, backfillOverlap); err != nil {
					return "", err
				}
				ov := backfillOverlap
				if ov == "" {
					ov = "buffer_all"
				}
				return fmt.Sprintf("backfilling %s from %s to %s (overlap %s)\n", id, from.Format(time.RFC3339), to.Format(time.RFC3339), ov), nil
			})
		},
	}
	backfill.Flags().StringVar(&start, "start", "", "start of the window, RFC 3339 (required)")
	backfill.Flags().StringVar(&end, "end", "", "end of the window, RFC 3339 (required)")
	backfill.Flags().StringVar(&backfillOverlap, "overlap", "", "how the runs share time: buffer_all (default: one after another), allow_all (at once), skip, ...")
	_ = backfill.MarkFlagRequired("start")
	_ = backfill.MarkFlagRequired("end")

	cmd.AddCommand(list, pause, unpause, trigger, backfill)
	return cmd
}

// eachSchedule runs fn on every schedule the arguments name and prints
// "<done> <id>" for each.
func eachSchedule(cmd *cobra.Command, g *globalFlags, refs []string, done string, fn func(context.Context, *engine.Client, string) error) error {
	st, err := remoteStack(cmd, g)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := cmd.Context()
	for _, ref := range refs {
		ids, err := st.client.ResolveSchedules(ctx, ref)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := fn(ctx, st.client, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", done, id)
		}
	}
	return nil
}

// oneSchedule runs fn on the one schedule ref names; a flow with several
// schedules is refused, since starting runs of all of them is rarely meant.
func oneSchedule(cmd *cobra.Command, g *globalFlags, ref string, fn func(context.Context, *engine.Client, string) (string, error)) error {
	st, err := remoteStack(cmd, g)
	if err != nil {
		return err
	}
	defer st.Close()
	ids, err := st.client.ResolveSchedules(cmd.Context(), ref)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return fmt.Errorf("flow %q has %d schedules (%s); name one by id", ref, len(ids), strings.Join(ids, ", "))
	}
	msg, err := fn(cmd.Context(), st.client, ids[0])
	if err != nil {
		return err
	}
	fmt.Fprint(cmd.OutOrStdout(), msg)
	return nil
}

// lastRetry says which execution last retried a run of a schedule, and how
// it went.
func lastRetry(r *engine.RetryInfo) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", r.WorkflowID, r.Status)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// scheduleSyncInterval is how often `outflow dev` looks for changed project
// files: often enough to feel immediate, rarely enough to cost nothing.
const scheduleSyncInterval = 2 * time.Second

// syncSchedules keeps the schedules of the project in dir deployed while
// `outflow dev` runs: it deploys once, then again whenever a file of the
// project changes (by modification time and size, polled every interval; no
// file-notification dependency for one loop). A project with problems is
// reported and deployed once fixed. The returned function stops the loop
// and waits for it, so that nothing writes to out after it returns.
func syncSchedules(ctx context.Context, out io.Writer, c *engine.Client, dir string, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		const prefix = "schedules        "
		abs, _ := filepath.Abs(dir)
		fmt.Fprintf(out, "%swatching %s (deployed on every change)\n", prefix, abs)
		var last map[string]fileStamp
		deployed := false
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			stamps := projectStamps(dir)
			if !deployed || !sameStamps(stamps, last) {
				last = stamps
				deployed = deployOnce(ctx, out, c, dir, prefix, deployed)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// deployOnce deploys the project and prints what changed (everything the
// first time). It reports whether the deploy went through; if not, the
// next tick tries again.
func deployOnce(ctx context.Context, out io.Writer, c *engine.Client, dir, prefix string, quiet bool) bool {
	proj, err := openProject(dir)
	if err == nil {
		var dep engine.Deployment
		dep, err = deployment(proj)
		if err == nil {
			dep.Prune = true
			var changes []engine.ScheduleChange
			changes, err = c.Deploy(ctx, dep)
			if ctx.Err() != nil {
				return true
			}
			if quiet {
				changes = onlyChanged(changes)
			}
			if len(changes) > 0 || !quiet {
				printChanges(out, changes, prefix, false)
			}
			if err == nil {
				return true
			}
		}
	}
	var ps flows.Problems
	if errors.As(err, &ps) {
		fmt.Fprintf(out, "%snot deployed: the project has %d %s\n", prefix, len(ps), plural(len(ps), "problem", "problems"))
		for _, p := range ps {
			fmt.Fprintf(out, "%s  %s\n", prefix, p.String())
		}
		// Problems stay until a file changes; trying again before is noise.
		return true
	}
	fmt.Fprintf(out, "%snot deployed: %v\n", prefix, err)
	return false
}

func onlyChanged(changes []engine.ScheduleChange) []engine.ScheduleChange {
	var out []engine.ScheduleChange
	for _, c := range changes {
		if c.Action != engine.ScheduleUnchanged {
			out = append(out, c)
		}
	}
	return out
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// projectStamps records every file of the project folder, skipping the
// folders flows.Load skips (hidden, "_" drafts, testdata), where `outflow
// dev` keeps its own database.
func projectStamps(dir string) map[string]fileStamp {
	stamps := map[string]fileStamp{}
	_ = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() {
			name := e.Name()
			if path != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := e.Info(); err == nil {
			stamps[path] = fileStamp{mod: info.ModTime(), size: info.Size()}
		}
		return nil
	})
	return stamps
}

func sameStamps(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			return false
		}
	}
	return true
}

// devProjectDir says which folder `outflow dev` keeps deployed: the one
// given with --project, or the current folder when it holds YAML files. A
// dev server started elsewhere deploys nothing.
func devProjectDir(cmd *cobra.Command, g *globalFlags) (string, bool) {
	if cmd.Flags().Changed("project") {
		return g.project, true
	}
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		if m, _ := filepath.Glob(filepath.Join(g.project, pattern)); len(m) > 0 {
			return g.project, true
		}
	}
	return "", false
}

// startScheduleSync is what `outflow dev` calls: it keeps the project's
// schedules deployed when there is a project, and does nothing otherwise.
func startScheduleSync(ctx context.Context, cmd *cobra.Command, g *globalFlags, c *engine.Client) (stop func()) {
	dir, ok := devProjectDir(cmd, g)
	if !ok {
		return func() {}
	}
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "outflow: not deploying schedules: %v\n", err)
		return func() {}
	}
	return syncSchedules(ctx, cmd.OutOrStdout(), c, dir, scheduleSyncInterval)
}
