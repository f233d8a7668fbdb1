package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/gateway"
)

// gatewayFlags are the options of `outflow gateway` and of the gateway
// `outflow dev` starts.
type gatewayFlags struct {
	listen  string
	tlsCert string
	tlsKey  string
	maxBody int64
}

func (f *gatewayFlags) register(cmd *cobra.Command, name, listen, usage string) {
	cmd.Flags().StringVar(&f.listen, name, listen, usage)
	cmd.Flags().StringVar(&f.tlsCert, "gateway-tls-cert", "", "PEM certificate (with chain) the gateway serves HTTPS with; needed for mtls auth")
	cmd.Flags().StringVar(&f.tlsKey, "gateway-tls-key", "", "PEM private key of --gateway-tls-cert")
	cmd.Flags().Int64Var(&f.maxBody, "gateway-max-body", gateway.DefaultMaxBody, "largest webhook body accepted, in bytes (callbacks: 256 KiB)")
}

// runningGateway is a gateway listening, not serving yet: its URL is known
// before the worker that signs callback URLs starts.
type runningGateway struct {
	ln  net.Listener
	url string
}

// listenGateway opens the gateway's listener; with anyPort a taken port
// falls back to a free one (outflow dev).
func (f *gatewayFlags) listenGateway(anyPort bool) (*runningGateway, error) {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("gateway: give --gateway-tls-cert and --gateway-tls-key together")
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil && anyPort && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(f.listen)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	scheme := "http"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("gateway: loading --gateway-tls-cert: %w", err)
		}
		// Client certificates are asked for, not demanded: each webhook's
		// mtls block checks them against its own CAs (401/403 otherwise).
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	return &runningGateway{ln: ln, url: scheme + "://" + ln.Addr().String()}, nil
}

// gatewayPlans compiles the project's flows that have webhook triggers.
// The project also gives the gateway its callback_auth (Project.CallbackAuth).
func gatewayPlans(dir string) ([]*engine.Plan, *flows.Project, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, nil
	}
	proj, err := openProject(dir)
	if err != nil {
		return nil, nil, err
	}
	var plans []*engine.Plan
	for _, name := range proj.Names().Flows {
		plan, err := proj.Plan(name)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range plan.Triggers {
			if t.Webhook != nil {
				plans = append(plans, plan)
				break
			}
		}
	}
	return plans, proj, nil
}

// serve builds the gateway and serves it until ctx ends.
func (rg *runningGateway) serve(ctx context.Context, c *engine.Client, key []byte, plans []*engine.Plan, cbAuth *engine.InboundAuth, dir string, f *gatewayFlags, seen *secrets.Seen, logger *slog.Logger) (*gateway.Gateway, error) {
	res, err := worker.GatewaySecrets(dir, seen)
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(gateway.Options{Client: c, Key: key, Plans: plans, CallbackAuth: cbAuth, Secrets: res, Dir: dir, MaxBody: f.maxBody, Logger: logger})
	if err != nil {
		return nil, err
	}
	go func() {
		if err := gw.Serve(ctx, rg.ln); err != nil {
			logger.Error("gateway stopped", "err", err)
		}
	}()
	return gw, nil
}

func gatewayCmd(g *globalFlags) *cobra.Command {
	var (
		f   gatewayFlags
		obs observeFlags
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve callbacks to waiting flows and webhook triggers of the project's flows (stateless; run any number behind a load balancer)",
		Long: `Serve the gateway: partners' callbacks to callback_url("NAME") URLs resume waiting
flows, and requests to the paths of the project's webhook triggers start flows.

OUTFLOW_GATEWAY_KEY (base64, at least 32 bytes; openssl rand -base64 32) is the key
workers sign callback URLs with; give the gateway and every worker the same one.
Without it callbacks are refused. GET /healthz checks Temporal; GET /metrics serves
Prometheus metrics. See docs/events.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if g.address == "" {
				return fmt.Errorf("gateway needs --address or TEMPORAL_ADDRESS (start a server with `outflow dev`)")
			}
			key, err := worker.GatewayKeyFromEnv()
			if err != nil {
				return err
			}
			if key == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "outflow: %s is not set: every callback will be refused\n", worker.EnvGatewayKey)
			}
			dir, _ := filepath.Abs(g.project)
			plans, proj, err := gatewayPlans(dir)
			if err != nil {
				return err
			}
			var cbAuth *engine.InboundAuth
			if proj != nil {
				cbAuth = proj.CallbackAuth()
			}
			dc, err := dataConverter(ctx, g)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-format") && os.Getenv(envLogFormat) == "" {
				obs.logFormat = "json"
			}
			o, err := obs.setup(ctx, cmd.ErrOrStderr(), "outflow-gateway")
			if err != nil {
				return err
			}
			defer o.Close()
			c, err := worker.Dial(ctx, worker.DialOptions{Address: g.address, Namespace: g.namespace, Logger: o.logger, DataConverter: dc, Observe: o.observe})
			if err != nil {
				return err
			}
			defer c.Close()
			rg, err := f.listenGateway(false)
			if err != nil {
				return err
			}
			ec := &engine.Client{Temporal: c, Namespace: g.namespace, DataConverter: dc}
			gw, err := rg.serve(ctx, ec, key, plans, cbAuth, dir, &f, o.observe.Seen, o.logger)
			if err != nil {
				rg.ln.Close()
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "gateway          %s (callbacks at %s, health at /healthz, metrics at /metrics)\n", rg.url, engine.CallbackPath)
			for _, p := range gw.Paths() {
				fmt.Fprintf(out, "webhook          %s%s\n", rg.url, p)
			}
			<-ctx.Done()
			return nil
		},
	}
	f.register(cmd, "listen", "127.0.0.1:8235", "address to listen on")
	obs.register(cmd)
	return cmd
}

// devGateway is the gateway of `outflow dev`: listening before the worker
// starts, so the worker signs callback URLs for it (or for the project's
// gateway.public_url), with a key kept beside the dev server's state.
type devGateway struct {
	f      gatewayFlags
	rg     *runningGateway
	key    []byte
	signer *engine.CallbackSigner
}

func (d *devGateway) listen(cmd *cobra.Command, db string) error {
	if d.f.listen == "" {
		return nil
	}
	key, err := worker.DevGatewayKey(filepath.Join(filepath.Dir(db), "gateway.key"))
	if err != nil {
		return err
	}
	rg, err := d.f.listenGateway(!cmd.Flags().Changed("gateway"))
	if err != nil {
		return err
	}
	d.rg, d.key = rg, key
	d.signer = &engine.CallbackSigner{Key: key, BaseURL: rg.url}
	return nil
}

// start serves the gateway and prints its line, which begins with "gateway".
func (d *devGateway) start(ctx context.Context, cmd *cobra.Command, g *globalFlags, c *engine.Client, seen *secrets.Seen, logger *slog.Logger) error {
	if d.rg == nil {
		return nil
	}
	var plans []*engine.Plan
	var cbAuth *engine.InboundAuth
	dir, ok := devProjectDir(cmd, g)
	if ok {
		dir, _ = filepath.Abs(dir)
		p, proj, err := gatewayPlans(dir)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "outflow: the gateway serves no webhooks: %v\n", err)
		} else if proj != nil {
			plans, cbAuth = p, proj.CallbackAuth()
		}
	}
	gw, err := d.rg.serve(ctx, c, d.key, plans, cbAuth, dir, &d.f, seen, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "gateway          %s (callbacks, %d webhook%s)\n", d.rg.url, len(gw.Paths()), map[bool]string{true: "", false: "s"}[len(gw.Paths()) == 1])
	return nil
}
