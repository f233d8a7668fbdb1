package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/doccache"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
)

// openProject loads the project folder dir. A step whose wsdl is a URL, or
// a connection whose openapi is one, has it fetched through its connection
// on first use and kept in the project's cache.
func openProject(dir string) (*flows.Project, error) {
	return loadProjectFetching(dir, false)
}

// loadProjectFetching is openProject; with refresh, every WSDL given by URL
// is fetched again.
func loadProjectFetching(dir string, refresh bool) (*flows.Project, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return flows.Load(root, flows.WithWSDLFetcher(wsdlFetcher(root, refresh)), flows.WithOpenAPIFetcher(openapiFetcher(root, refresh)))
}

// wsdlFetcher fetches WSDLs for the project at root as a step of it would
// call the partner: the connection's credential and protocol profile, with
// secrets resolved here.
func wsdlFetcher(root string, refresh bool) flows.WSDLFetcher {
	res := secrets.New(root)
	f := &doccache.Fetcher{Kind: soap.WSDLDocuments,
		Transports: steps.NewTransports(res),
		Secrets:    res,
		BaseDir:    root,
		Dir:        filepath.Join(root, wsdl.CacheDir),
		Refresh:    refresh,
	}
	return func(conn *engine.Connection, profile *engine.ProtocolProfile, url string) ([]byte, error) {
		return f.Fetch(context.Background(), conn, profile, url)
	}
}

// fetchCommand is the fetch command of a kind of document the project names
// by URL (soap fetch, openapi fetch): it loads the project fetching every
// such document again, then lists what the cache holds.
func fetchCommand(g *globalFlags, short, none string, list func(root string) ([]doccache.Cached, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "fetch",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, err := loadProjectFetching(g.project, true)
			if err != nil {
				return reportProblems(cmd, err)
			}
			cached, err := list(proj.Root())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(cached) == 0 {
				fmt.Fprintln(w, none)
				return nil
			}
			sort.Slice(cached, func(i, j int) bool { return cached[i].URL < cached[j].URL })
			for _, c := range cached {
				fmt.Fprintf(w, "%s  via %s  %d bytes  fetched %s\n", c.URL, c.Connection, c.Size, c.FetchedAt.Local().Format(time.DateTime))
			}
			return nil
		},
	}
}
