package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
)

// sendEventCmd is `outflow executions send ID EVENT [--data JSON|@file]`.
func sendEventCmd(g *globalFlags) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "send ID EVENT",
		Short: "Send an event to a running execution: a step waiting with wait: {event: EVENT} resumes",
		Long: "Send an event to a running execution. A step waiting with wait: {event: EVENT} resumes with\n" +
			"the data as steps.ID.event.body (and .json when it is JSON); an event sent before the flow\n" +
			"reaches the wait is kept for it.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := eventData(data, cmd.InOrStdin())
			if err != nil {
				return err
			}
			ev := engine.Event{Name: args[1], Body: body, ReceivedAt: time.Now().UTC(), Source: "cli"}
			if err := ev.Check(); err != nil {
				return err
			}
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.client.SendEvent(cmd.Context(), args[0], "", ev); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent event %s to %s\n", args[1], args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the event's body: JSON or text, @FILE to read a file, @- for standard input")
	return cmd
}

// eventData reads --data: the text itself, @FILE, or @- for stdin, at
// most engine.MaxEventBody bytes.
func eventData(data string, stdin io.Reader) (string, error) {
	if !strings.HasPrefix(data, "@") {
		return data, nil
	}
	var r io.Reader = stdin
	if name := data[1:]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", fmt.Errorf("reading --data: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, engine.MaxEventBody+1))
	if err != nil {
		return "", fmt.Errorf("reading --data: %w", err)
	}
	if len(b) > engine.MaxEventBody {
		return "", fmt.Errorf("reading --data: more than %d bytes; an event body is at most that", engine.MaxEventBody)
	}
	return string(b), nil
}
