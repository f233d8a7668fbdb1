package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
)

func executionsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "executions", Short: "List executions and show their step output data"}
	var (
		o      engine.ListOptions
		since  string
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if since != "" {
				d, err := parseDays("since", since)
				if err != nil {
					return err
				}
				o.Since = d
			}
			if err := o.Check(); err != nil {
				return err
			}
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			exs, err := st.client.List(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(exs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EXECUTION\tFLOW\tSTATUS\tSTARTED\tDURATION\tRETRIES")
			for _, e := range exs {
				d := "-"
				if e.End != nil {
					d = e.End.Sub(e.Start).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.WorkflowID, e.Flow, e.Status, e.Start.Local().Format(time.DateTime), d, retryLinks(e))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&o.Flow, "flow", "", "only executions of this flow or action")
	list.Flags().StringVar(&o.Status, "status", "", "only executions with this status: "+strings.Join(engine.ExecutionStatuses(), ", "))
	list.Flags().StringVar(&since, "since", "", "only executions started within this long: days (7d) or a duration (24h)")
	list.Flags().StringVar(&o.Schedule, "schedule", "", "only the runs this schedule (id outflow:<flow>:<index>) started and the retries of them")
	list.Flags().IntVar(&o.Limit, "limit", 50, "at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an execution's record: each step's request, response, TLS facts, timings and errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			rec, err := st.client.Show(cmd.Context(), args[0])
			if rec == nil {
				return err
			}
			if showJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				_ = enc.Encode(rec)
			} else {
				rec.WriteText(cmd.OutOrStdout(), true)
			}
			if rec.Status == engine.StatusFailed {
				return exitError{1}
			}
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the whole record as JSON")
	cmd.AddCommand(list, show, sendEventCmd(g))
	cmd.AddCommand(recoveryCmds(g)...)
	return cmd
}

// defaultDevAddress is where commands that read a server's state look
// without --address: where `outflow dev` listens.
var defaultDevAddress = devAddress

// remoteStack connects to the server at --address, else to `outflow dev`.
// Nothing is embedded: executions and schedules live in a server that
// outlasts the command.
func remoteStack(cmd *cobra.Command, g *globalFlags) (*stack, error) {
	if g.address != "" {
		return openStack(cmd.Context(), g, stackOptions{})
	}
	g2 := *g
	g2.address = defaultDevAddress
	st, err := openStack(cmd.Context(), &g2, stackOptions{})
	if err != nil && strings.Contains(err.Error(), "connecting to Temporal at") {
		return nil, fmt.Errorf("no Temporal server at %s, where outflow dev listens, and no --address (or TEMPORAL_ADDRESS) was given.\n"+
			"  A run without --address used a throwaway embedded server that stopped with it, and its executions went with it.\n"+
			"  Start one that keeps them with `outflow dev` and run with --address %s, or give the --address of your server.\n"+
			"  (%w)", defaultDevAddress, defaultDevAddress, err)
	}
	return st, err
}
