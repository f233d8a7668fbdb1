package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/apispec"
	"github.com/outflow-dev/outflow/steps/doccache"
)

func openapiCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "openapi", Short: "Work with partners' OpenAPI (and Swagger 2.0) documents"}

	var asJSON bool
	var connection, tag, only string
	ops := &cobra.Command{
		Use:   "operations SPEC|URL",
		Short: "List an OpenAPI document's operations, with a YAML skeleton of a step for each",
		Long: `List an OpenAPI document's operations, with a YAML skeleton of a REST step for each:
its parameters and body from the schema, required ones given sample values and
optional ones as comments. The skeletons pass validate as they are.

SPEC is a file (JSON or YAML; $refs to other files are read beside it), or an
http(s) URL fetched through a connection of the project (--connection): its
credential and client certificate, as a step would.`,
		Example: `  outflow openapi operations specs/bank.yaml --connection bank
  outflow openapi operations https://api.bank.example/psd2/openapi.json --connection bank --tag payments`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := readSpecArg(g.project, connection, args[0])
			if err != nil {
				return err
			}
			var list []*openapi.Operation
			for _, op := range spec.Operations {
				if (tag == "" || slices.Contains(op.Tags, tag)) && (only == "" || op.ID == only || op.Method+" "+op.Path == only) {
					list = append(list, op)
				}
			}
			if len(list) == 0 {
				what := "operations"
				if tag != "" {
					what += " tagged " + tag
				}
				if only != "" {
					what = "operation " + only
				}
				return fmt.Errorf("no %s in %s", what, args[0])
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			conn := connection
			if conn == "" {
				conn = "CONNECTION"
			}
			for _, op := range list {
				fmt.Fprintf(out, "%s\n", op)
				if op.Summary != "" {
					fmt.Fprintf(out, "  %s\n", op.Summary)
				}
				if len(op.Tags) > 0 {
					fmt.Fprintf(out, "  tags: %s\n", strings.Join(op.Tags, ", "))
				}
				if op.Deprecated {
					fmt.Fprintln(out, "  deprecated")
				}
				fmt.Fprintln(out, "  step:")
				for _, line := range strings.Split(strings.TrimRight(flows.StepSkeleton(spec, op, conn), "\n"), "\n") {
					fmt.Fprintf(out, "    %s\n", line)
				}
				fmt.Fprintln(out)
			}
			for _, d := range spec.Defects {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s (warning)\n", defectString(args[0], d))
			}
			return nil
		},
	}
	ops.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	ops.Flags().StringVar(&connection, "connection", "", "the project connection to fetch a URL through, and to name in the skeletons")
	ops.Flags().StringVar(&tag, "tag", "", "only the operations with this tag")
	ops.Flags().StringVar(&only, "operation", "", "only this operation (operationId, or \"METHOD /path\")")
	cmd.AddCommand(ops)

	var genConn, genTag, out string
	var force bool
	gen := &cobra.Command{
		Use:   "generate SPEC --connection NAME",
		Short: "Write one kind: Action per operation of an OpenAPI document, calling it through a connection",
		Long: `Write one kind: Action per operation of the OpenAPI document SPEC into --out
(default actions/NAME in the project): typed inputs for its required parameters
and its body, a REST step that calls the operation through the connection,
and outputs for the status code, the JSON body and the success response's fields.
Optional parameters are listed as comments.

The connection must name SPEC as its openapi: document (a project file or a URL),
so that validate checks the actions against it; they pass validate as written.
Existing files are kept unless --force is given.`,
		Example: `  outflow openapi generate specs/bank.yaml --connection bank
  outflow openapi generate specs/bank.yaml --connection bank --tag payments --out actions/payments`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if genConn == "" {
				return errors.New("give --connection, the project connection the actions call through")
			}
			proj, err := openProject(g.project)
			if err != nil {
				return reportProblems(cmd, err)
			}
			_, named := proj.OpenAPI(genConn)
			if named == "" {
				if _, err := proj.Connection(genConn); err != nil {
					return err
				}
				return fmt.Errorf("connection %s names no OpenAPI document; add `openapi: %s` to it, so that validate checks the actions against it", genConn, specRef(proj.Root(), args[0]))
			}
			if !sameSpec(proj.Root(), named, args[0]) {
				return fmt.Errorf("connection %s names the OpenAPI document %s, not %s; give that one, or change the connection's openapi field", genConn, named, args[0])
			}
			actions, err := proj.GenerateActions(genConn, flows.GenerateOptions{Tag: genTag, Source: named})
			if err != nil {
				return err
			}
			if len(actions) == 0 {
				return fmt.Errorf("no operations tagged %s in %s", genTag, named)
			}
			dir := out
			if dir == "" {
				dir = filepath.Join("actions", genConn)
			}
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(proj.Root(), dir)
			}
			if !force {
				var exist []string
				for _, a := range actions {
					if _, err := os.Stat(filepath.Join(dir, a.File)); err == nil {
						exist = append(exist, a.File)
					}
				}
				if len(exist) > 0 {
					return fmt.Errorf("%d files exist in %s already (%s); give --force to replace them", len(exist), dir, strings.Join(exist[:min(3, len(exist))], ", "))
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, a := range actions {
				if err := os.WriteFile(filepath.Join(dir, a.File), []byte(a.YAML), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d actions to %s\n", len(actions), dir)
			// They must load as written: say so, or say what is wrong.
			if _, err := openProject(g.project); err != nil {
				return reportProblems(cmd, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "validate: ok")
			return nil
		},
	}
	gen.Flags().StringVar(&genConn, "connection", "", "the connection the actions call through (required)")
	gen.Flags().StringVar(&genTag, "tag", "", "only the operations with this tag")
	gen.Flags().StringVar(&out, "out", "", "the folder to write to (default actions/CONNECTION in the project)")
	gen.Flags().BoolVar(&force, "force", false, "replace files that exist")
	cmd.AddCommand(gen)

	cmd.AddCommand(fetchCommand(g, "Fetch again every OpenAPI document connections name by URL, through the connections, into .outflow/openapi",
		"no connection names its OpenAPI document by URL; nothing to fetch",
		func(root string) ([]doccache.Cached, error) {
			return apispec.ListCache(filepath.Join(root, openapi.CacheDir))
		}))
	return cmd
}

func defectString(loc string, d openapi.Defect) string {
	where := d.File
	if where == "" {
		where = loc
	}
	if d.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", where, d.Line, d.Col)
	}
	return where + ": " + d.Message
}

// specRef is how a connection names the document arg: a URL as is, a file
// relative to the project folder.
func specRef(root, arg string) string {
	if openapi.IsURL(arg) {
		return arg
	}
	if abs, err := filepath.Abs(arg); err == nil {
		if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return arg
}

// sameSpec reports whether arg is the document a connection names (named).
func sameSpec(root, named, arg string) bool {
	if openapi.IsURL(named) || openapi.IsURL(arg) {
		return named == arg
	}
	return path.Clean(named) == path.Clean(specRef(root, arg))
}

// readSpecArg reads an OpenAPI document given on the command line: a file,
// with the files its $refs name read beside it, or a URL fetched through
// the project's connection conn.
func readSpecArg(project, conn, arg string) (*openapi.Spec, error) {
	if openapi.IsURL(arg) {
		return fetchOpenAPI(project, conn, arg)
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	if len(data) > reader.MaxDocumentSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", arg, reader.MaxDocumentSize>>20)
	}
	// The absolute path, without its leading slash, is the document's
	// location: relative $refs resolve against it on disk.
	loc := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	read := func(ref string) ([]byte, error) {
		f, err := os.Open(filepath.FromSlash("/" + path.Clean(ref)))
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, pe.Err
			}
			return nil, err
		}
		defer f.Close()
		return readCapped(f, reader.MaxDocumentSize)
	}
	spec, err := reader.Parse(loc, data, read)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), loc, arg))
	}
	for i := range spec.Defects {
		if spec.Defects[i].File == loc {
			spec.Defects[i].File = arg
		}
	}
	return spec, nil
}

func readCapped(f *os.File, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return data, nil
}

// fetchOpenAPI fetches an OpenAPI document, and the documents it refers
// to, through the project's connection named conn, keeping them in the
// project's cache.
func fetchOpenAPI(project, conn, u string) (*openapi.Spec, error) {
	read, err := connectionReader(project, conn, u, apispec.Documents, openapi.CacheDir)
	if err != nil {
		return nil, err
	}
	data, err := read(u)
	if err != nil {
		return nil, err
	}
	return reader.Parse(u, data, read)
}
