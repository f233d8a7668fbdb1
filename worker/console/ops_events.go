package console

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// sendEventOperation sends an event to a running execution, as `outflow
// executions send` does; the event records who sent it.
func sendEventOperation() Operation {
	return Operation{
		Name: "send-event", Label: "Send event",
		Confirm: "Deliver an event to the execution: a step waiting with wait: {event: NAME} resumes with the data as " +
			"steps.ID.event.body (and .json when it is JSON). An event sent before the flow reaches its wait is kept for it. " +
			"Your name is recorded with the event.",
		Fields: []Field{
			{Name: "event", Label: "Event", Kind: FieldText, Required: true, Help: "the name a wait: {event} step waits for"},
			{Name: "data", Label: "Data", Kind: FieldTextArea, Help: "JSON or text, at most 256 KiB"},
		},
		Applies: running,
		Run:     sendEvent,
	}
}

func sendEvent(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
	name := form.Get("event")
	if name == "" {
		return OpResult{}, errors.New("sending an event needs its name")
	}
	ev := engine.Event{Name: name, Body: form.Get("data"), ReceivedAt: time.Now().UTC(), Source: "console", By: temporalIdentity(env.Identity)}
	if err := env.Client.SendEvent(ctx, t.ID, "", ev); err != nil {
		return OpResult{}, err
	}
	return OpResult{Message: fmt.Sprintf("event %s sent", name)}, nil
}
