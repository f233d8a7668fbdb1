package engine

import (
	"slices"
	"testing"
)

// TestStepsRetryByTheErrorTable keeps the retry policy of steps and the one
// table of error types in step: a type the table calls never retried is
// in the policy's non-retryable list, and no other.
func TestStepsRetryByTheErrorTable(t *testing.T) {
	r := &runner{plan: &Plan{}}
	got := r.activityOptions(&Step{}, &Connection{}, DefaultTaskQueue).RetryPolicy.NonRetryableErrorTypes
	want := NonRetryableErrorTypes()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("steps never retry %v; the error table says %v", got, want)
	}
	seen := map[string]bool{}
	for _, e := range ErrorTypes {
		if seen[e.Name] || e.Name == "" || e.Meaning == "" {
			t.Errorf("error type %+v: empty or listed twice", e)
		}
		seen[e.Name] = true
	}
}
