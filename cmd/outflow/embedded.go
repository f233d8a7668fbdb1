//go:build !noserver

package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker/devserver"
)

// serverCommands are the commands that run a Temporal server in this
// process. They link the whole server; the noserver build leaves them out.
func serverCommands(g *globalFlags) []*cobra.Command {
	return []*cobra.Command{devCmd(g), serverCmd(g)}
}

// startEmbeddedServer starts an ephemeral Temporal server for a command run
// without --address.
func startEmbeddedServer(ctx context.Context, namespace string) (embeddedServer, error) {
	// The server's start-up chatter ("frontend is not healthy yet") is noise here: Start reports real failures.
	srv, err := devserver.Start(ctx, devserver.Options{Namespace: namespace, SearchAttributes: engine.SearchAttributes, LogLevel: "off"})
	if err != nil {
		return nil, err
	}
	return srv, nil
}
