package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/devserver"
)

// stack is what a command talks to: a Temporal client, and when no address
// was given, an embedded server and worker living in this process.
type stack struct {
	client   *engine.Client
	temporal client.Client
	server   *devserver.Server
	worker   *worker.Worker
}

func (s *stack) Close() {
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.temporal != nil {
		s.temporal.Close()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
}

type stackOptions struct {
	// embedWorker starts a worker in this process when the server is embedded.
	embedWorker bool
	// agents the embedded worker also serves (so that a quick local run of a
	// project with agent connections does not wait for agents).
	agents  []string
	baseDir string
	log     io.Writer
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func openStack(ctx context.Context, g *globalFlags, o stackOptions) (*stack, error) {
	s := &stack{}
	addr := g.address
	if addr == "" {
		// The server's start-up chatter ("frontend is not healthy yet") is noise here: Start reports real failures.
		srv, err := devserver.Start(ctx, devserver.Options{Namespace: g.namespace, SearchAttributes: engine.SearchAttributes, LogLevel: "off"})
		if err != nil {
			return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
		}
		s.server = srv
		addr = srv.FrontendAddress()
	}
	c, err := worker.Dial(ctx, worker.DialOptions{Address: addr, Namespace: g.namespace, Logger: quietLogger(), Plaintext: s.server != nil})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.temporal = c
	s.client = &engine.Client{Temporal: c, Namespace: g.namespace, EagerStart: s.server != nil && o.embedWorker}
	if s.server != nil && o.embedWorker {
		w, err := worker.Start(worker.Options{
			Client: c, Flows: true, Agents: o.agents, BaseDir: o.baseDir,
			Logger: quietLogger(),
		})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.worker = w
	}
	return s, nil
}
