package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine/wsdl"
)

func soapCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "soap", Short: "Work with WSDLs"}
	var asJSON bool
	var only string
	ops := &cobra.Command{
		Use:   "operations WSDL",
		Short: "List a WSDL's services, ports and operations, with a YAML body skeleton for each input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defs, err := wsdl.Load(args[0])
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
					fmt.Fprintf(out, "  step:\n    soap:\n      connection: CONNECTION\n      wsdl: %s\n      port: %s\n      operation: %s\n      body:\n", args[0], op.Port, op.Operation)
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
	cmd.AddCommand(ops)
	_ = g
	return cmd
}
