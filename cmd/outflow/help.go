package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// What --address means differs by command, so each command that talks to
// Temporal registers it with its own words; the others do not take it.
const (
	addressEmbedded = "Temporal frontend host:port (default $TEMPORAL_ADDRESS; without one, a throwaway embedded server that stops when the command ends)"
	addressDev      = "Temporal frontend host:port (default $TEMPORAL_ADDRESS, else " + devAddress + ", where outflow dev listens)"
	addressWorker   = "Temporal frontend host:port (default $TEMPORAL_ADDRESS; with --config, the file's temporal.address unless this is given)"
)

// addressGateway is what --address means to `outflow gateway`.
const addressGateway = "Temporal frontend host:port (default $TEMPORAL_ADDRESS)"

// devAddress is where `outflow dev` serves the frontend by default.
const devAddress = "127.0.0.1:7233"

// temporalFlags says which Temporal flags a top-level command takes:
// --address (with its meaning; none when empty), --namespace and
// --payload-key.
type temporalFlags struct {
	address               string
	namespace, payloadKey bool
}

var commandTemporalFlags = map[string]temporalFlags{
	"run":          {addressEmbedded, true, true},
	"test":         {addressEmbedded, true, true},
	"quickstart":   {addressEmbedded, true, true},
	"executions":   {addressDev, true, true},
	"schedules":    {addressDev, true, true},
	"deploy":       {addressDev, true, true},
	"worker":       {addressWorker, true, true},
	"dev":          {"", true, true},
	"server":       {"", true, false},
	"codec-server": {"", false, true},
	"console":      {addressDev, true, true},
	"gateway":      {addressGateway, true, true},
}

// registerTemporalFlags gives each top-level command the Temporal flags it
// uses, inherited by its subcommands.
func registerTemporalFlags(root *cobra.Command, g *globalFlags) {
	for _, c := range root.Commands() {
		tf, ok := commandTemporalFlags[c.Name()]
		if !ok {
			continue
		}
		fs := c.PersistentFlags()
		if tf.address != "" {
			fs.StringVar(&g.address, "address", os.Getenv("TEMPORAL_ADDRESS"), tf.address)
		}
		if tf.namespace {
			fs.StringVar(&g.namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (default $TEMPORAL_NAMESPACE, else default)")
			fs.Lookup("namespace").DefValue = "" // the usage says it
		}
		if tf.payloadKey {
			registerPayloadKeyFlag(c, g)
		}
	}
}

// examples are the Examples sections of --help, by command path.
var examples = map[string]string{
	"outflow validate": `  outflow validate --project examples/quickstart
  outflow validate flows/order-sync.yaml`,
	"outflow run": `  outflow run order-sync --input customer_id=7
  outflow run order-sync --address 127.0.0.1:7233 --detach
  outflow run flows/nightly.yaml --inputs inputs.yaml --json`,
	"outflow test": `  outflow test                                   # every offline test of the project
  outflow test order-sync-ships                  # one test
  outflow test lookup-customer --input customer_id=7        # an action, for real
  outflow test order-sync --step orders --input steps.customer.outputs.id=7
  outflow test --record order-sync-ships         # record a test's mocks from a real run`,
	"outflow gateway": `  OUTFLOW_GATEWAY_KEY=$(cat gateway.key) outflow gateway --address temporal:7233 --listen :8235
  outflow gateway --address 127.0.0.1:7233 --gateway-tls-cert gw.pem --gateway-tls-key gw-key.pem`,
	"outflow executions send": `  outflow executions send order-intake-d-100 paid --data '{"payment_id":"pay_42"}'
  outflow executions send order-intake-d-100 paid --data @callback.json`,
	"outflow worker": `  outflow worker --address 127.0.0.1:7233
  outflow worker --config agent.yaml
  outflow worker --config agent.yaml --check
  outflow worker --metrics-addr :9464 --log-format json`,
	"outflow executions list": `  outflow executions list
  outflow executions list --flow order-sync --status failed --since 7d
  outflow executions list --schedule outflow:order-sync:0`,
	"outflow executions show": `  outflow executions show order-sync-1763870000000000000
  outflow executions show order-sync-1763870000000000000 --json`,
	"outflow certs inspect": `  outflow certs inspect certs/client.p12 --password env:KEYSTORE_PASSWORD
  outflow certs inspect bundle.pem --within 60d --json`,
	"outflow certs check": `  outflow certs check
  outflow certs check --within 14d --json`,
	"outflow certs dev-ca": `  outflow certs dev-ca pki
  outflow certs dev-ca pki --host temporal.internal --client worker,agent-dmz --if-missing`,
	"outflow quickstart": `  outflow quickstart
  outflow quickstart --input customer_id=7 --json`,
	"outflow soap operations": `  outflow soap operations wsdl/orders.wsdl
  outflow soap operations https://partner.example/orders?wsdl --connection partner-soap --operation GetOrderStatus`,
	"outflow soap fetch": `  outflow soap fetch --project examples/partner-project
  outflow soap fetch && outflow validate   # check the steps against the partner's newest WSDL`,
	"outflow openapi fetch": `  outflow openapi fetch --project ./bank-sync
  outflow openapi fetch && outflow validate   # check the flows against the partner's newest document`,
	"outflow deploy": `  outflow deploy --dry-run
  outflow deploy --address temporal.internal:7233 --namespace prod`,
	"outflow schedules list": `  outflow schedules list
  outflow schedules list --flow nightly-order-sync --json`,
	"outflow schedules pause":    `  outflow schedules pause nightly-order-sync --note "partner maintenance"`,
	"outflow schedules unpause":  `  outflow schedules unpause nightly-order-sync`,
	"outflow schedules trigger":  `  outflow schedules trigger nightly-order-sync`,
	"outflow schedules backfill": `  outflow schedules backfill nightly-order-sync --start 2026-01-01T00:00:00Z --end 2026-01-02T00:00:00Z`,
	"outflow console": `  outflow console                                    # http://127.0.0.1:8234 against outflow dev
  outflow console --address temporal:7233 --listen 0.0.0.0:8234 --console-auth bearer \
    --console-token ops:operator:env:CONSOLE_TOKEN --console-tls-cert console.pem --console-tls-key console.key`,
	"outflow console hash-password": `  outflow console hash-password   # reads a password, prints its bcrypt hash for --console-user`,
	"outflow codec-server":          `  outflow codec-server --payload-key env:OUTFLOW_PAYLOAD_KEY --auth-token env:CODEC_TOKEN --cors-origin http://localhost:8233`,
	"outflow dev": `  outflow dev --project examples/quickstart
  outflow dev --tls-cert pki/server.crt --tls-key pki/server.key --tls-client-ca pki/ca.crt`,
	"outflow server": `  outflow server --db postgres://temporal@localhost:5432/temporal`,
}

// addExamples sets the Examples section of every command that has one.
func addExamples(c *cobra.Command) {
	if ex, ok := examples[c.CommandPath()]; ok && c.Example == "" {
		c.Example = ex
	}
	for _, sub := range c.Commands() {
		addExamples(sub)
	}
}

// version says which build this is: the module version when built from a
// tagged module, else the VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	parts := []string{v}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified {
			rev += "+modified"
		}
		parts = append(parts, "commit "+rev)
	}
	if when != "" {
		parts = append(parts, when)
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, ", ")
}

func setVersion(root *cobra.Command) {
	root.Version = version()
	root.SetVersionTemplate(fmt.Sprintf("outflow %s\n", "{{.Version}}"))
}
