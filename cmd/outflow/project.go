package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/apispec"
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
	return docFetcher(root, refresh, soap.WSDLDocuments, wsdl.CacheDir)
}

// openapiFetcher fetches OpenAPI documents for the project at root the
// same way.
func openapiFetcher(root string, refresh bool) flows.OpenAPIFetcher {
	return docFetcher(root, refresh, apispec.Documents, openapi.CacheDir)
}

// docFetcher fetches documents of kind k for the project at root, keeping
// them in its cache folder cacheDir (relative to root).
func docFetcher(root string, refresh bool, k doccache.Kind, cacheDir string) func(*engine.Connection, *engine.ProtocolProfile, string) ([]byte, error) {
	res := secrets.New(root)
	f := &doccache.Fetcher{Kind: k,
		Transports: steps.NewTransports(res),
		Secrets:    res,
		BaseDir:    root,
		Dir:        filepath.Join(root, cacheDir),
		Refresh:    refresh,
	}
	return func(conn *engine.Connection, profile *engine.ProtocolProfile, url string) ([]byte, error) {
		return f.Fetch(context.Background(), conn, profile, url)
	}
}

// connectionReader reads documents of kind k at URLs through the project's
// connection named conn (for the document at u and those it imports or
// refers to), as docFetcher does; every URL is checked against the
// connection first, also one the cache holds.
func connectionReader(project, conn, u string, k doccache.Kind, cacheDir string) (func(loc string) ([]byte, error), error) {
	if conn == "" {
		return nil, fmt.Errorf("%s is a URL: give --connection, the project connection to fetch it through", u)
	}
	proj, err := openProject(project)
	if err != nil {
		return nil, err
	}
	c, err := proj.Connection(conn)
	if err != nil {
		return nil, err
	}
	var profile *engine.ProtocolProfile
	if c.ProtocolProfile != "" {
		if profile, err = proj.Profile(c.ProtocolProfile); err != nil {
			return nil, err
		}
	}
	fetch := docFetcher(proj.Root(), false, k, cacheDir)
	return func(loc string) ([]byte, error) {
		if err := k.CheckURL(loc, c); err != nil {
			return nil, err
		}
		return fetch(c, profile, loc)
	}, nil
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
