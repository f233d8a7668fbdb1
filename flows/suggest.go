package flows

import "github.com/outflow-dev/outflow/engine/yamlkit"

// closest returns the candidate nearest to s when it is near enough to be a
// likely typo (yamlkit.Closest).
func closest(s string, candidates []string) (string, bool) {
	return yamlkit.Closest(s, candidates)
}

// Closest is yamlkit.Closest.
var Closest = yamlkit.Closest

// known formats the names a reference could have been (yamlkit.Known).
func known(s string, names []string, what string) string { return yamlkit.Known(s, names, what) }

// quoteList renders names as "a", "b" or "c".
func quoteList(names []string) string { return yamlkit.QuoteList(names) }

func editDistance(a, b string) int { return yamlkit.EditDistance(a, b) }
