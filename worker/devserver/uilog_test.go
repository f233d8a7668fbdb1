package devserver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const pageWarning = "GetHistory page size is larger than threshold"

// The Temporal Web UI reads histories in pages larger than the server
// serves; the server serves its maximum and used to warn each time, a line
// every few seconds while `outflow dev` had the UI open. That is logged at
// debug level now.
func TestLargeHistoryPagesDoNotWarn(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"warn", "debug"} {
		t.Run(level, func(t *testing.T) {
			logs := &syncBuffer{}
			s := startServer(t, Options{LogLevel: level, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			c := dial(t, s, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "nobody"}, waitForSignalWorkflow)
			if err != nil {
				t.Fatal(err)
			}
			// What the UI asks for: a page of 1000 events.
			_, err = c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
				Namespace:       s.Namespace(),
				Execution:       &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
				MaximumPageSize: 1000,
			})
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, pageWarning) {
					line = l
				}
			}
			switch level {
			case "warn":
				if line != "" {
					t.Errorf("logged at the default level: %s", line)
				}
			case "debug":
				// The server did come by the page size: it says so at debug level.
				if !strings.Contains(line, "level=DEBUG") {
					t.Errorf("want the page-size line at debug level, got %q", line)
				}
			}
		})
	}
}
