package main

// A failed execution is as encrypted as a successful one: with
// OUTFLOW_PAYLOAD_KEY set, a flow whose step a partner refuses is run on
// the embedded Temporal server, its history is read raw (without the
// codec), and the CLI, which holds the key, still shows the error.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/worker/codec"
)

const refusingFlow = `kind: Connection
name: orders-api
url: http://%s
---
kind: Flow
name: place-order
inputs:
  order: {type: string, required: true}
steps:
  - id: place
    rest: {connection: orders-api, method: POST, path: "/orders/${{ inputs.order }}", body: {note: "${{ inputs.order }}"}, expect: [201]}
`

// storedFailures returns every failure of the history, causes included,
// with the event that holds it.
func storedFailures(h *historypb.History) map[*failurepb.Failure]enums.EventType {
	out := map[*failurepb.Failure]enums.EventType{}
	for _, ev := range h.Events {
		var f *failurepb.Failure
		switch ev.EventType {
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			f = ev.GetActivityTaskFailedEventAttributes().GetFailure()
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
			f = ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		case enums.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			f = ev.GetWorkflowTaskFailedEventAttributes().GetFailure()
		case enums.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
			f = ev.GetChildWorkflowExecutionFailedEventAttributes().GetFailure()
		}
		for ; f != nil; f = f.GetCause() {
			out[f] = ev.EventType
		}
	}
	return out
}

func failurePayloads(f *failurepb.Failure) []*commonpb.Payload {
	ps := append([]*commonpb.Payload(nil), f.GetApplicationFailureInfo().GetDetails().GetPayloads()...)
	ps = append(ps, f.GetCanceledFailureInfo().GetDetails().GetPayloads()...)
	ps = append(ps, f.GetTimeoutFailureInfo().GetLastHeartbeatDetails().GetPayloads()...)
	if ea := f.GetEncodedAttributes(); ea != nil {
		ps = append(ps, ea)
	}
	return ps
}

func TestFailedRunIsEncryptedInHistory(t *testing.T) {
	const (
		orderID      = "ORD-INPUT-5521"
		partnerWords = "ACME-PRIVATE-WORDS customer file 88-31"
	)
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"error": %q}`, partnerWords)
	}))
	defer partner.Close()
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(refusingFlow, partner.Listener.Addr().String()))

	t.Setenv(envPayloadKey, randomKeyText(t))
	_, addr := scheduleStack(t) // the embedded server and a worker, with the key from the environment

	// `outflow run` with the key: the failure and the partner's words are shown.
	out, errOut, code := cli(t, "run", "place-order", "--project", dir, "--address", addr, "--id", "enc-fail-1", "--input", "order="+orderID)
	if code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"FAILED", "422", partnerWords} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("run output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	// `outflow executions show` with the key reads the record from the
	// failure's details, and so does its JSON.
	for _, args := range [][]string{{"executions", "show", "enc-fail-1"}, {"executions", "show", "enc-fail-1", "--json"}} {
		out, errOut, code = cli(t, append(args, "--address", addr)...)
		if code != 1 || !strings.Contains(out, partnerWords) || !strings.Contains(out, "/orders/"+orderID) {
			t.Errorf("%s: exit %d, want 1 and the partner's words and the URL:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}

	// The raw history, read without the codec.
	raw, err := client.Dial(client.Options{HostPort: addr, Namespace: "default", Logger: quietSDKLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var h historypb.History
	it := raw.GetWorkflowHistory(context.Background(), "enc-fail-1", "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	failures := storedFailures(&h)
	var sawWorkflowFailure, sawDetails bool
	for f, ev := range failures {
		sawWorkflowFailure = sawWorkflowFailure || ev == enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
		if f.GetMessage() != "Encoded failure" || f.GetStackTrace() != "" {
			t.Errorf("%s: a failure's message or stack is stored readable: %q %q", ev, f.GetMessage(), f.GetStackTrace())
		}
		for _, p := range failurePayloads(f) {
			if enc := string(p.Metadata[converter.MetadataEncoding]); enc != codec.Encoding {
				t.Errorf("%s: failure payload stored as %q", ev, enc)
			}
		}
		sawDetails = sawDetails || len(f.GetApplicationFailureInfo().GetDetails().GetPayloads()) > 0
	}
	if !sawWorkflowFailure || !sawDetails {
		t.Fatalf("the history has no failed execution with details (%d failures): the test checks nothing", len(failures))
	}
	b, _ := proto.Marshal(&h)
	for _, plain := range []string{partnerWords, "ACME-PRIVATE", orderID, "/orders/", "422 Unprocessable"} {
		if bytes.Contains(b, []byte(plain)) {
			t.Errorf("%q readable in the raw history", plain)
		}
	}

	// Without the key the CLI shows neither the words nor the record.
	t.Setenv(envPayloadKey, "")
	out, errOut, _ = cli(t, "executions", "show", "enc-fail-1", "--address", addr)
	if strings.Contains(out+errOut, partnerWords) || strings.Contains(out+errOut, orderID) {
		t.Errorf("without the key the CLI shows the failure:\n%s%s", out, errOut)
	}
}
