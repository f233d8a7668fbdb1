package engine

import (
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// reversing is a payload codec that stands for the payload key: it
// reverses the data, so a failure encoded with it reads only through it.
type reversing struct{}

func (reversing) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return flip(ps, "binary/reversed"), nil
}
func (reversing) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return flip(ps, "json/plain"), nil
}

func flip(ps []*commonpb.Payload, enc string) []*commonpb.Payload {
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		d := []byte(string(p.Data))
		for a, b := 0, len(d)-1; a < b; a, b = a+1, b-1 {
			d[a], d[b] = d[b], d[a]
		}
		out[i] = &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(enc)}, Data: d}
	}
	return out
}

// TestWaitingNoteDecodesTheLastFailure: when payloads are encrypted the
// last failure of a pending activity comes from the server as "Encoded
// failure"; the note of a waiting step quotes it decoded with the client's
// data converter.
func TestWaitingNoteDecodesTheLastFailure(t *testing.T) {
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), reversing{})
	fc := temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
	const said = "calling POST https://partner/orders/ORD-9: connection refused"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pending := func() *workflowpb.PendingActivityInfo {
		p := pendingAct("1", "rest", DefaultTaskQueue, enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, 3)
		p.ScheduledTime = timestamppb.New(now.Add(-time.Minute))
		p.LastFailure = fc.ErrorToFailure(temporal.NewApplicationError(said, "Connection"))
		return p
	}
	note := func(dc converter.DataConverter) string {
		rec := &Record{Steps: []*StepRecord{{ID: "get", Kind: "rest", Status: StatusRunning, TaskQueue: DefaultTaskQueue}}}
		ps := []*workflowpb.PendingActivityInfo{pending()}
		if ps[0].LastFailure.GetMessage() != "Encoded failure" {
			t.Fatalf("the failure is stored as %q", ps[0].LastFailure.GetMessage())
		}
		decodeLastFailures(dc, ps)
		annotateWaiting(rec, ps, nil, now)
		if rec.Steps[0].Error == nil {
			t.Fatal("the step is not marked waiting")
		}
		return rec.Steps[0].Error.Message
	}
	if got := note(dc); !strings.Contains(got, "the last one ended: "+said) {
		t.Errorf("with the data converter: %q", got)
	}
	if got := note(nil); strings.Contains(got, "ORD-9") || !strings.Contains(got, "Encoded failure") {
		t.Errorf("without it: %q", got)
	}
}
