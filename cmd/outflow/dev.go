//go:build !noserver

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"

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
		tlsOpt devTLS
		obs    observeFlags
		conAt  string
		conF   consoleFlags
		gw     devGateway
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
			serverTLS, err := tlsOpt.server()
			if err != nil {
				return err
			}
			workerTLS, err := tlsOpt.worker(quietLogger())
			if err != nil {
				return err
			}
			pc, err := payloadCodec(ctx, g)
			if err != nil {
				return err
			}
			var dc converter.DataConverter
			codecURL := ""
			if pc != nil {
				dc = pc.DataConverter()
				if uiPort > 0 {
					// The embedded UI decodes through a codec endpoint on
					// loopback, as open as the dev UI itself.
					if codecURL, err = serveDevCodec(ctx, pc, uiPort); err != nil {
						return err
					}
				}
			}
			o, err := obs.setup(ctx, cmd.ErrOrStderr(), "outflow-dev")
			if err != nil {
				return err
			}
			defer o.Close()
			srv, err := devserver.Start(ctx, devserver.Options{
				DBPath: db, Port: port, UIPort: uiPort, Namespace: g.namespace, SearchAttributes: engine.SearchAttributes,
				TLS: serverTLS, UICodecEndpoint: codecURL,
			})
			if err != nil {
				return err
			}
			defer srv.Stop()
			c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: g.namespace, Logger: o.logger, TLS: workerTLS, Plaintext: serverTLS == nil,
				DataConverter: dc, Observe: o.observe})
			if err != nil {
				return err
			}
			defer c.Close()
			if err := gw.listen(cmd, db); err != nil {
				return err
			}
			w, err := worker.Start(worker.Options{Client: c, Flows: true, Agents: agents, Logger: o.logger, Observe: o.observe,
				OwnSecrets: worker.PayloadKeySecrets(payloadKeyRefs(g)), Callbacks: gw.signer})
			if err != nil {
				return err
			}
			defer w.Stop()
			out := cmd.OutOrStdout()
			ec := &engine.Client{Temporal: c, Namespace: g.namespace, DataConverter: dc}
			if conAt != "" {
				url, err := startConsole(ctx, conAt, !cmd.Flags().Changed("console"), &conF, g, ec, o.logger)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "console          %s\n", url)
			}
			if err := gw.start(ctx, cmd, g, ec, o.observe.Seen, o.logger); err != nil {
				return err
			}
			security := "plaintext"
			switch {
			case serverTLS != nil && serverTLS.RequireClientCert:
				security = "mutual TLS: client certificates required"
			case serverTLS != nil:
				security = "TLS"
			}
			fmt.Fprintf(out, "Temporal server  %s (namespace %s, %s, state in %s)\n", srv.FrontendAddress(), g.namespace, security, db)
			if ui := srv.UIAddress(); ui != "" {
				fmt.Fprintf(out, "Temporal Web UI  %s\n", ui)
			}
			if codecURL != "" {
				fmt.Fprintf(out, "payload codec    %s (payloads encrypted; the Web UI decodes through it)\n", codecURL)
			}
			fmt.Fprintf(out, "worker           task queue %s", engine.DefaultTaskQueue)
			for _, a := range agents {
				fmt.Fprintf(out, ", agent group %s", a)
			}
			fmt.Fprintln(out)
			if o.metrics != nil {
				fmt.Fprintf(out, "metrics          http://%s/metrics\n", o.metrics.Addr)
			}
			fmt.Fprintf(out, "\nrun flows with:  outflow run FLOW --address %s\n", srv.FrontendAddress())
			if serverTLS != nil {
				fmt.Fprintf(out, "                 with %s=%s and %s=<client bundle> in the environment\n", worker.EnvTLSCA, tlsOpt.cert, worker.EnvTLSCert)
			}
			warnExpiringCertificates(cmd, g)
			stopSync := startScheduleSync(ctx, cmd, g, &engine.Client{Temporal: c, Namespace: g.namespace})
			<-ctx.Done()
			stopSync()
			fmt.Fprintln(out, "stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", filepath.Join(".outflow", "dev.sqlite"), "SQLite file that keeps the server's state across restarts")
	cmd.Flags().IntVar(&port, "port", 7233, "Temporal frontend port")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port (0: no UI)")
	cmd.Flags().StringSliceVar(&agents, "agent", nil, "also serve the steps of these agent groups")
	cmd.Flags().StringVar(&conAt, "console", "127.0.0.1:8234", "address of the web console (empty: no console)")
	conF.register(cmd)
	gw.f.register(cmd, "gateway", "127.0.0.1:8235", "address of the gateway for callbacks and webhooks (empty: no gateway)")
	tlsOpt.register(cmd)
	obs.register(cmd)
	return cmd
}
