package yamlkit

import (
	"fmt"
	"sort"
	"strings"
)

// Closest returns the candidate nearest to s by edit distance, if it is near
// enough to be a likely typo: a case-only difference, an abbreviation of at
// least three letters, or at most a third of the word's letters changed.
// Words shorter than three letters are too short to guess from. Every
// decoder of Outflow's YAML files uses it so that every did-you-mean reads
// the same.
func Closest(s string, candidates []string) (string, bool) {
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c, true
		}
	}
	if len(s) < 3 {
		return "", false
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(s)) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0], true
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		d := EditDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := max(1, min(len(s), len(best))/3)
	if min(len(s), len(best)) < 3 {
		limit = 0
	}
	if bestDist < 0 || bestDist > limit {
		return "", false
	}
	return best, true
}

// EditDistance is the optimal-string-alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and swaps of neighbours each
// count one, since swapped letters are the commonest typo.
func EditDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		// Names that long are not typos of each other; spare the quadratic work.
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	// Rows i-2, i-1 and i of the distance matrix.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// MaxListed caps how many names a message lists.
const MaxListed = 12

// Known formats the names a reference could have been, for messages such as
// `unknown connection "x" (did you mean "y"? known: a, b)`. what is the plural
// of the kind of thing named ("connections"), used when there are none.
func Known(s string, names []string, what string) string {
	if len(names) == 0 {
		return fmt.Sprintf("(no %s are defined)", what)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	list := sorted
	more := ""
	if len(list) > MaxListed {
		more = fmt.Sprintf(", and %d more", len(list)-MaxListed)
		list = list[:MaxListed]
	}
	if c, ok := Closest(s, sorted); ok {
		return fmt.Sprintf("(did you mean %q? known: %s%s)", c, strings.Join(list, ", "), more)
	}
	return fmt.Sprintf("(known: %s%s)", strings.Join(list, ", "), more)
}

// QuoteList renders names as "a", "b" or "c".
func QuoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
