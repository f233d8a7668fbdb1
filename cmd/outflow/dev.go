package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/devserver"
)

func devCmd(g *globalFlags) *cobra.Command {
	var (
		db     string
		port   int
		uiPort int
		agents []string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a Temporal server (state in a SQLite file), the Temporal Web UI and a worker in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
				return err
			}
			srv, err := devserver.Start(ctx, devserver.Options{
				DBPath: db, Port: port, UIPort: uiPort, Namespace: g.namespace, SearchAttributes: engine.SearchAttributes,
			})
			if err != nil {
				return err
			}
			defer srv.Stop()
			c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: g.namespace, Logger: quietLogger()})
			if err != nil {
				return err
			}
			defer c.Close()
			w, err := worker.Start(worker.Options{Client: c, Flows: true, Agents: agents, Logger: quietLogger()})
			if err != nil {
				return err
			}
			defer w.Stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Temporal server  %s (namespace %s, state in %s)\n", srv.FrontendAddress(), g.namespace, db)
			if ui := srv.UIAddress(); ui != "" {
				fmt.Fprintf(out, "Temporal Web UI  %s\n", ui)
			}
			fmt.Fprintf(out, "worker           task queue %s", engine.DefaultTaskQueue)
			for _, a := range agents {
				fmt.Fprintf(out, ", agent group %s", a)
			}
			fmt.Fprintf(out, "\n\nrun flows with:  outflow run FLOW --address %s\n", srv.FrontendAddress())
			<-ctx.Done()
			fmt.Fprintln(out, "stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", filepath.Join(".outflow", "dev.sqlite"), "SQLite file that keeps the server's state across restarts")
	cmd.Flags().IntVar(&port, "port", 7233, "Temporal frontend port")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port (0: no UI)")
	cmd.Flags().StringSliceVar(&agents, "agent", nil, "also serve the steps of these agent groups")
	return cmd
}

func workerCmd(g *globalFlags) *cobra.Command {
	var (
		agents    []string
		onlyAgent bool
		identity  string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against a Temporal server (--address): flows and steps, or the steps of agent groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if g.address == "" {
				return fmt.Errorf("worker needs --address or TEMPORAL_ADDRESS (start a server with `outflow dev`)")
			}
			c, err := worker.Dial(ctx, worker.DialOptions{Address: g.address, Namespace: g.namespace})
			if err != nil {
				return err
			}
			defer c.Close()
			baseDir := ""
			if cmd.Flags().Changed("project") {
				baseDir, _ = filepath.Abs(g.project)
			}
			w, err := worker.Start(worker.Options{
				Client: c, Flows: !onlyAgent, NoDefaultSteps: onlyAgent, Agents: agents, Identity: identity,
				BaseDir: baseDir,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker connected to %s (namespace %s)\n", g.address, g.namespace)
			<-ctx.Done()
			w.Stop()
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&agents, "agent", nil, "serve the steps of these agent groups")
	cmd.Flags().BoolVar(&onlyAgent, "agent-only", false, "serve only the agent groups, not flows or default steps")
	cmd.Flags().StringVar(&identity, "identity", "", "worker identity shown in step records")
	return cmd
}
