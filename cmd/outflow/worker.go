package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/worker"
)

func workerCmd(g *globalFlags) *cobra.Command {
	var (
		agents    []string
		onlyAgent bool
		identity  string
		config    string
		check     bool
		obs       observeFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against a Temporal server: flows and steps, or, with --config, an agent that runs the steps of its groups where the keystore lives",
		Long: `Run a worker against a Temporal server.

Without --config it is a default worker (flows and steps) and needs --address
or TEMPORAL_ADDRESS; TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY and TEMPORAL_TLS_CA
secure the connection.

With --config agent.yaml it is an agent: the file names it and its groups, how
it reaches Temporal (address, namespace, mutual TLS), the keystores of
protocol profiles kept on this machine (store: agent) and the secret stores
(Vault, CyberArk) it reads. See docs/agents.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			dc, err := dataConverter(ctx, g)
			if err != nil {
				return err
			}
			o, err := obs.setup(ctx, cmd.ErrOrStderr(), "outflow-worker")
			if err != nil {
				return err
			}
			defer o.Close()
			logger := o.logger
			if o.metrics != nil {
				fmt.Fprintf(out, "metrics at http://%s/metrics, liveness at /healthz\n", o.metrics.Addr)
			}
			if config != "" {
				cfg, err := worker.LoadConfig(config)
				if err != nil {
					return reportConfigProblems(cmd, err)
				}
				for _, w := range cfg.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s (warning)\n", w)
				}
				if check {
					errs, warnings := cfg.Check(ctx, time.Now())
					for _, w := range warnings {
						fmt.Fprintln(cmd.ErrOrStderr(), w)
					}
					if len(errs) > 0 {
						return reportConfigProblems(cmd, errs)
					}
					fmt.Fprintf(out, "%s: agent %q, groups %s: ok\n", config, cfg.Name, strings.Join(cfg.Groups, ", "))
					return nil
				}
				ao := worker.AgentOptions{Identity: identity, Logger: logger, Observe: o.observe, DataConverter: dc,
					OwnSecrets: worker.PayloadKeySecrets(payloadKeyRefs(g))}
				if cmd.Flags().Changed("address") || cfg.Temporal.Address == "" {
					ao.Address = g.address
				}
				if cmd.Flags().Changed("namespace") || cfg.Temporal.Namespace == "" {
					ao.Namespace = g.namespace
				}
				a, err := worker.StartAgent(ctx, cfg, ao)
				if err != nil {
					return err
				}
				if o.metrics != nil {
					o.metrics.SetHealth(worker.FrontendHealth(a.Client))
				}
				fmt.Fprintf(out, "agent %s connected to %s (namespace %s) as %s; agent groups: %s\n",
					cfg.Name, a.Address, a.Namespace, a.Identity, queueList(cfg.Groups))
				<-ctx.Done()
				a.Stop()
				return nil
			}
			if check {
				return fmt.Errorf("--check checks an agent config: give --config FILE")
			}
			if g.address == "" {
				return fmt.Errorf("worker needs --address or TEMPORAL_ADDRESS (start a server with `outflow dev`), or --config agent.yaml")
			}
			c, err := worker.Dial(ctx, worker.DialOptions{Address: g.address, Namespace: g.namespace, Logger: logger,
				DataConverter: dc, Observe: o.observe})
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
				BaseDir: baseDir, Logger: logger, Observe: o.observe, OwnSecrets: worker.PayloadKeySecrets(payloadKeyRefs(g)),
			})
			if err != nil {
				return err
			}
			if o.metrics != nil {
				o.metrics.SetHealth(worker.FrontendHealth(c))
			}
			fmt.Fprintf(out, "worker connected to %s (namespace %s)\n", g.address, g.namespace)
			<-ctx.Done()
			w.Stop()
			return nil
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "run as an agent configured by this file (see docs/agents.md)")
	cmd.Flags().BoolVar(&check, "check", false, "with --config: check the file and open the keystores it names, report every problem with its position, and exit")
	cmd.Flags().StringSliceVar(&agents, "agent", nil, "serve the steps of these agent groups (without --config)")
	cmd.Flags().BoolVar(&onlyAgent, "agent-only", false, "serve only the agent groups, not flows or default steps (without --config)")
	cmd.Flags().StringVar(&identity, "identity", "", "worker identity shown in step records")
	obs.register(cmd)
	return cmd
}

func queueList(groups []string) string {
	if len(groups) == 0 {
		return "none"
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = fmt.Sprintf("%s (task queue %s)", g, engine.AgentTaskQueue(g))
	}
	return strings.Join(parts, ", ")
}

// reportConfigProblems prints an agent config's problems one a line, as
// `outflow validate` prints a project's, and exits 1.
func reportConfigProblems(cmd *cobra.Command, err error) error {
	ps, ok := err.(flows.Problems)
	if !ok {
		return err
	}
	for _, p := range ps {
		fmt.Fprintln(cmd.ErrOrStderr(), p)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s)\n", len(ps))
	return exitError{1}
}
