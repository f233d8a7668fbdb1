package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/flows"
)

func validateCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH]",
		Short: "Check a project (or one file) and report every problem with file:line:col",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := g.project
			var files []string
			if len(args) == 1 {
				st, err := os.Stat(args[0])
				if err != nil {
					return err
				}
				if st.IsDir() {
					dir = args[0]
				} else {
					files = []string{args[0]}
				}
			}
			proj, err := loadProject(dir, files)
			if err != nil {
				return reportProblems(cmd, err)
			}
			for _, w := range proj.Warnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s (warning)\n", w.String())
			}
			problems := certProblems(cmd.Context(), proj)
			for _, p := range problems {
				fmt.Fprintln(cmd.ErrOrStderr(), p.String())
			}
			if hasErrors(problems) {
				return exitError{1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s)\n", displayPath(dir, files), summary(proj))
			return nil
		},
	}
}

func displayPath(dir string, files []string) string {
	if len(files) == 1 {
		return files[0]
	}
	return dir
}

// loadProject loads the project folder; given a file, it loads the project
// the file belongs to (--project when the file is inside it, else the file's
// folder) so that references to other files resolve.
func loadProject(dir string, files []string) (*flows.Project, error) {
	if len(files) > 0 {
		absFile, _ := filepath.Abs(files[0])
		absRoot, _ := filepath.Abs(dir)
		if !strings.HasPrefix(absFile, absRoot+string(filepath.Separator)) {
			dir = filepath.Dir(files[0])
		}
	}
	return openProject(dir)
}

func reportProblems(cmd *cobra.Command, err error) error {
	var ps flows.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(cmd.ErrOrStderr(), p.String())
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s)\n", len(ps))
		return exitError{1}
	}
	return err
}

func summary(p *flows.Project) string {
	n := p.Names()
	return fmt.Sprintf("%d flows, %d actions, %d connections, %d protocol profiles", len(n.Flows), len(n.Actions), len(n.Connections), len(n.Profiles))
}
