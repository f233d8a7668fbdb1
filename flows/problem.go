package flows

import "github.com/outflow-dev/outflow/engine/yamlkit"

// Problem is one thing wrong with a project, at a position in a file
// (yamlkit.Problem).
type Problem = yamlkit.Problem

// Problems is every problem found in a project, sorted by file, line and
// column. Load returns it as its error so that all of them can be shown at
// once.
type Problems = yamlkit.Problems
