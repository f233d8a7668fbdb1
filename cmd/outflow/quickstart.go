package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

const (
	quickstartFlow       = "order-sync"
	quickstartConnection = "partner-api"
)

func quickstartCmd(g *globalFlags) *cobra.Command {
	var (
		dir    string
		asJSON bool
		inputs []string
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the example flow end to end: an mTLS partner, an embedded Temporal server and a worker",
		Long: `Run the example flow end to end: an mTLS partner, an embedded Temporal server
and a worker. The project is examples/quickstart unless --project names another
copy of it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cmd.Flags().Changed("project") {
				if cmd.Flags().Changed("dir") {
					return fmt.Errorf("--dir is the old name of --project: give one of them")
				}
				dir = g.project
			}
			in := map[string]any{}
			for _, kv := range inputs {
				k, v, _ := cutInput(kv)
				in[k] = v
			}
			rec, _, err := runQuickstart(ctx, g, dir, in, cmd.OutOrStdout(), cmd.ErrOrStderr(), asJSON)
			if err != nil && rec == nil {
				return err
			}
			if rec.Status != engine.StatusSucceeded {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "examples/quickstart", "the quickstart project")
	_ = cmd.Flags().MarkDeprecated("dir", "use --project")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the execution record as JSON")
	cmd.Flags().StringArrayVarP(&inputs, "input", "i", nil, "input as name=value")
	return cmd
}

func cutInput(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// quickstartSetup is the prepared quickstart: the compiled flow and its
// partner, listening where the flow's connection points.
type quickstartSetup struct {
	plan             *engine.Plan
	partner          *partner.Server
	apiPassword      string
	keystorePassword string
}

// prepareQuickstart generates the partner's certificates, puts the demo
// secrets into this process's environment (the worker resolves
// env:PARTNER_KEYSTORE_PASSWORD and env:PARTNER_PASSWORD here), compiles the
// flow and starts the partner where the project's connection points.
func prepareQuickstart(dir string) (*quickstartSetup, error) {
	certs, err := partner.GenerateCerts(dir)
	if err != nil {
		return nil, err
	}
	qs := &quickstartSetup{apiPassword: partner.RandomSecret(), keystorePassword: certs.KeystorePassword}
	os.Setenv("PARTNER_KEYSTORE_PASSWORD", qs.keystorePassword)
	os.Setenv("PARTNER_PASSWORD", qs.apiPassword)
	proj, err := openProject(dir)
	if err != nil {
		return nil, err
	}
	if qs.plan, err = proj.Plan(quickstartFlow); err != nil {
		return nil, err
	}
	conn := qs.plan.Connections[quickstartConnection]
	if conn == nil {
		return nil, fmt.Errorf("the quickstart project has no connection %q", quickstartConnection)
	}
	port := conn.Port
	if port == 0 && qs.plan.Profiles[conn.ProtocolProfile] != nil {
		port = qs.plan.Profiles[conn.ProtocolProfile].Port
	}
	username := "svc-outflow"
	if conn.Credential != nil {
		username = conn.Credential.Username
	}
	qs.partner, err = partner.Serve(net.JoinHostPort(conn.Host, strconv.Itoa(port)), certs.ServerTLS, partner.New(username, qs.apiPassword))
	if err != nil {
		return nil, err
	}
	return qs, nil
}

// runQuickstart runs the example flow on an embedded server (or the one at
// --address) against the example partner.
func runQuickstart(ctx context.Context, g *globalFlags, dir string, inputs map[string]any, out, errOut io.Writer, asJSON bool) (*engine.Record, *partner.Server, error) {
	qs, err := prepareQuickstart(dir)
	if err != nil {
		return nil, nil, err
	}
	defer qs.partner.Close()
	plan := qs.plan
	if !asJSON {
		fmt.Fprintf(errOut, "example partner at https://%s%s (requires a client certificate)\n", qs.partner.Addr, plan.Connections[quickstartConnection].BasePath)
	}
	logger, err := commandLogger(errOut, "")
	if err != nil {
		return nil, qs.partner, err
	}
	st, err := openStack(ctx, g, stackOptions{embedWorker: true, agents: planAgents(plan), logger: logger})
	if err != nil {
		return nil, qs.partner, err
	}
	defer st.Close()
	if st.server != nil && !asJSON {
		fmt.Fprintf(errOut, "embedded Temporal server at %s\n", st.server.FrontendAddress())
	}
	run, err := st.client.Start(ctx, plan, inputs, engine.RunOptions{})
	if err != nil {
		return nil, qs.partner, err
	}
	var progress func(*engine.Record)
	if !asJSON {
		fmt.Fprintf(errOut, "started flow %s as %s\n", plan.Name, run.GetID())
		progress = stepPrinter(errOut)
	}
	rec, werr := st.client.Wait(ctx, run, progress)
	if rec == nil {
		return nil, qs.partner, werr
	}
	if progress != nil {
		progress(rec)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rec)
	} else {
		fmt.Fprintln(out)
		rec.WriteText(out, true)
	}
	return rec, qs.partner, werr
}
