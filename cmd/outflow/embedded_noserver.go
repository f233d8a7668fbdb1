//go:build noserver

package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// serverCommands: this binary was built with the noserver tag, without the
// Temporal server, to run workers against a Temporal cluster.
func serverCommands(*globalFlags) []*cobra.Command { return nil }

func startEmbeddedServer(context.Context, string) (embeddedServer, error) {
	return nil, errors.New("this outflow is built without the embedded Temporal server (noserver): give --address or set TEMPORAL_ADDRESS")
}
