package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// A foreach (or action) that ends in the same update as its last items is
// printed after them: it ended after them. Durations read as the record's.
func TestProgressPrintsAHolderAfterItsSteps(t *testing.T) {
	var out bytes.Buffer
	print := stepPrinter(&out)
	step := func(id, status string, d time.Duration) *engine.StepRecord {
		return &engine.StepRecord{ID: id, Status: status, Duration: engine.Duration(d)}
	}
	print(&engine.Record{Steps: []*engine.StepRecord{
		step("ack", engine.StatusRunning, 0),
		step("ack[0]/post", engine.StatusSucceeded, 14700*time.Microsecond),
		step("ack[1]/post", engine.StatusRunning, 0),
	}})
	print(&engine.Record{Steps: []*engine.StepRecord{
		step("ack", engine.StatusSucceeded, 15266600*time.Microsecond),
		step("ack[0]/post", engine.StatusSucceeded, 14700*time.Microsecond),
		step("ack[1]/post", engine.StatusSucceeded, 15100*time.Microsecond),
		step("ack[2]/post", engine.StatusSucceeded, 15200*time.Microsecond),
		step("status", engine.StatusSucceeded, 11900*time.Microsecond),
	}})
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		ids = append(ids, strings.Fields(line)[1])
	}
	if got := strings.Join(ids, " "); got != "ack[0]/post ack[1]/post ack[2]/post ack status" {
		t.Errorf("printed in the order %s:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "succeeded 15.27s") || !strings.Contains(out.String(), "14.7ms") {
		t.Errorf("durations:\n%s", out.String())
	}
}
