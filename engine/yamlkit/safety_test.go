package yamlkit

import (
	"strings"
	"testing"
)

func TestPreScanDepth(t *testing.T) {
	for _, tc := range []struct {
		src  string
		deep bool
	}{
		{"a: " + strings.Repeat("[", 30) + strings.Repeat("]", 30), false},
		{"a: " + strings.Repeat("[", 300), true},
		{"a: '" + strings.Repeat("[", 300) + "'", false},
		{"a: \"" + strings.Repeat("{", 300) + "\"", false},
		{"a: x # " + strings.Repeat("[", 300), false},
		{"a: |\n" + strings.Repeat("  [[[[[[[[[[\n", 100), false},
		{strings.Repeat("- ", 300) + "x", true},
		{func() string {
			var b strings.Builder
			for i := range 250 {
				b.WriteString(strings.Repeat(" ", i) + "k:\n")
			}
			return b.String()
		}(), true},
	} {
		_, _, deep := preScanDepth([]byte(tc.src), 2*MaxDepth)
		if deep != tc.deep {
			t.Errorf("preScanDepth(%.40q...) = %v, want %v", tc.src, deep, tc.deep)
		}
	}
}
