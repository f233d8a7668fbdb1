package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/doccache"
	"github.com/outflow-dev/outflow/steps/soap"
)

func soapCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "soap", Short: "Work with WSDLs"}
	var asJSON bool
	var only, connection string
	ops := &cobra.Command{
		Use:   "operations WSDL",
		Short: "List a WSDL's services, ports and operations, with a YAML body skeleton for each input",
		Long: `List a WSDL's services, ports and operations, with a YAML body skeleton for each input.

WSDL is a file, or an http(s) URL fetched through a connection of the project
(--connection): its credential and client certificate, as a step would.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var defs *wsdl.Definitions
			var err error
			if wsdl.IsURL(args[0]) {
				defs, err = fetchWSDL(g.project, connection, args[0])
			} else {
				defs, err = wsdl.Load(args[0])
			}
			if err != nil {
				return err
			}
			list := wsdl.Operations(defs)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			out := cmd.OutOrStdout()
			shown := 0
			for _, op := range list {
				if only != "" && op.Operation != only {
					continue
				}
				shown++
				fmt.Fprintf(out, "%s / %s / %s  (SOAP %s, %s)\n", op.Service, op.Port, op.Operation, op.SOAPVersion, op.Style)
				if op.SOAPAction != "" {
					fmt.Fprintf(out, "  SOAPAction: %s\n", op.SOAPAction)
				}
				if op.Address != "" {
					fmt.Fprintf(out, "  address:    %s\n", op.Address)
				}
				fmt.Fprintf(out, "  input:      %s\n", op.Input)
				if op.Output != "" {
					fmt.Fprintf(out, "  output:     %s\n", op.Output)
				}
				sk, err := wsdl.Skeleton(defs, op.Operation)
				if err == nil {
					conn := connection
					if conn == "" {
						conn = "CONNECTION"
					}
					fmt.Fprintf(out, "  step:\n    soap:\n      connection: %s\n      wsdl: %s\n      port: %s\n      operation: %s\n      body:\n", conn, args[0], op.Port, op.Operation)
					for _, line := range strings.Split(strings.TrimRight(sk, "\n"), "\n") {
						fmt.Fprintf(out, "        %s\n", line)
					}
				}
				fmt.Fprintln(out)
			}
			if only != "" && shown == 0 {
				return fmt.Errorf("no operation %q in %s", only, args[0])
			}
			return nil
		},
	}
	ops.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	ops.Flags().StringVar(&only, "operation", "", "show only this operation")
	ops.Flags().StringVar(&connection, "connection", "", "the project connection to fetch a WSDL URL through")
	cmd.AddCommand(ops)

	cmd.AddCommand(fetchCommand(g, "Fetch again every WSDL the project's steps name by URL, through their connections, into .outflow/wsdl",
		"no step names its WSDL by URL; nothing to fetch",
		func(root string) ([]doccache.Cached, error) {
			return soap.ListWSDLCache(filepath.Join(root, wsdl.CacheDir))
		}))
	return cmd
}

// fetchWSDL fetches a WSDL, and what it imports, through the project's
// connection named conn, keeping the documents in the project's cache.
func fetchWSDL(project, conn, u string) (*wsdl.Definitions, error) {
	read, err := connectionReader(project, conn, u, soap.WSDLDocuments, wsdl.CacheDir)
	if err != nil {
		return nil, err
	}
	data, err := read(u)
	if err != nil {
		return nil, err
	}
	return wsdl.ParseLocation(u, data, read)
}
