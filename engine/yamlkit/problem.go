package yamlkit

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a project, at a position in a file.
type Problem struct {
	// File is the path of the YAML file, relative to the project folder and
	// written with forward slashes.
	File string `json:"file"`
	// Line and Col are 1-based; both are 0 when the problem concerns the
	// whole file (it cannot be read, or it is too large).
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
	// Path locates the value inside its document, such as
	// "steps[2].rest.connection"; empty for problems of a whole document.
	Path string `json:"path,omitempty"`
	// Message says what is wrong and what would be right.
	Message string `json:"message"`
}

// String formats the problem as "file:line:col: path: message", leaving out
// the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a project, sorted by file, line and
// column. Load returns it as its error so that all of them can be shown at
// once.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the problems by file, line and column, keeping the order
// they were found in otherwise.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// dedupe drops identical problems, which arise when an anchored value is
// decoded once per alias that repeats it.
// Dedupe drops a problem that repeats the one before it.
func (ps Problems) Dedupe() Problems {
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}
