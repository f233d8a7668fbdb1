// Command outflow validates, runs and inspects Outflow flows.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries an exit status without printing more than the command did.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type globalFlags struct {
	project   string
	address   string
	namespace string
	// payloadKeys are secret references of payload encryption keys.
	payloadKeys []string
}

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line and returns the exit status.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "outflow:", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "outflow",
		Short:         "Outflow runs outbound integration flows written in YAML on Temporal",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.project, "project", ".", "project folder")
	// Commands that talk to Temporal register --address, --namespace and
	// --payload-key themselves (registerTemporalFlags); the namespace has
	// its default for the others too.
	g.namespace = envOr("TEMPORAL_NAMESPACE", "default")
	root.AddCommand(
		validateCmd(g), runCmd(g), testCmd(g), workerCmd(g), executionsCmd(g), certsCmd(g), quickstartCmd(g), soapCmd(g), openapiCmd(g),
	)
	root.AddCommand(deployCmd(g), schedulesCmd(g), consoleCmd(g))
	root.AddCommand(gatewayCmd(g))
	root.AddCommand(codecServerCmd(g))
	root.AddCommand(serverCommands(g)...)
	registerTemporalFlags(root, g)
	addExamples(root)
	setVersion(root)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
