// Command genschema writes the JSON Schema (flows/schema/outflow.schema.json)
// and the field reference (docs/reference.md) of Outflow's YAML contract,
// generated from the types of package flows. Run it with `go generate ./flows`
// or `go run ./flows/cmd/genschema` from anywhere in the module.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/outflow-dev/outflow/flows/internal/schemagen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	schema, reference, err := schemagen.Generate(filepath.Join(root, "flows"))
	if err != nil {
		return err
	}
	for file, data := range map[string][]byte{schemagen.SchemaFile: schema, schemagen.ReferenceFile: reference} {
		path := filepath.Join(root, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", file)
	}
	return nil
}

// moduleRoot finds the folder of go.mod above the current one, so the
// command works from the module root and from go generate in flows/.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the current folder; run it inside the outflow module")
		}
		dir = parent
	}
}
