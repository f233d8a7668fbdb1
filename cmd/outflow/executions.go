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
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			fmt.Fprintln(tw, "EXECUTION\tFLOW\tSTATUS\tSTARTED\tDURATION")
			for _, e := range exs {
				d := "-"
				if e.End != nil {
					d = e.End.Sub(e.Start).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.WorkflowID, e.Flow, e.Status, e.Start.Local().Format(time.DateTime), d)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&o.Flow, "flow", "", "only executions of this flow or action")
	list.Flags().StringVar(&o.Status, "status", "", "only executions with this status ("+strings.Join(engine.ExecutionStatuses(), ", ")+")")
	list.Flags().DurationVar(&o.Since, "since", 0, "only executions started within this long (e.g. 24h)")
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
	cmd.AddCommand(list, show)
	return cmd
}

func remoteStack(cmd *cobra.Command, g *globalFlags) (*stack, error) {
	if g.address == "" {
		g2 := *g
		g2.address = "127.0.0.1:7233" // where `outflow dev` listens by default
		g = &g2
	}
	return openStack(cmd.Context(), g, stackOptions{})
}
