package codec

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// stepRecord stands for what a failed step carries as failure details.
type stepRecord struct {
	URL  string `json:"url"`
	Body string `json:"body"`
}

// walkFailures calls fn on f and each of its causes.
func walkFailures(f *failurepb.Failure, fn func(*failurepb.Failure)) {
	for ; f != nil; f = f.GetCause() {
		fn(f)
	}
}

// TestFailureConverterEncryptsMessagesAndDetails: a failure made by the
// codec's failure converter holds no plaintext (message, stack trace,
// details, the cause's too), and reads back whole with the key.
func TestFailureConverterEncryptsMessagesAndDetails(t *testing.T) {
	k, _ := newKey(t)
	c, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	fc := c.FailureConverter()
	cause := temporal.NewApplicationError("partner said: order ORD-77 belongs to ACME-PRIVATE", "HTTPStatusClient")
	in := temporal.NewApplicationErrorWithOptions("step get failed: 422 from /orders/ORD-77", "FlowFailed", temporal.ApplicationErrorOptions{NonRetryable: true, Cause: cause, Details: []any{
		stepRecord{URL: "https://partner.example/orders/ORD-77", Body: "ACME-PRIVATE"}}})
	f := fc.ErrorToFailure(in)

	raw, err := proto.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"ORD-77", "ACME-PRIVATE", "partner said", "json/plain"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("%q readable in the stored failure", plain)
		}
	}
	n := 0
	walkFailures(f, func(f *failurepb.Failure) {
		n++
		if f.GetMessage() != "Encoded failure" {
			t.Errorf("stored message %q", f.GetMessage())
		}
		if enc := string(f.GetEncodedAttributes().GetMetadata()[converter.MetadataEncoding]); enc != Encoding {
			t.Errorf("encoded attributes with encoding %q", enc)
		}
		for _, p := range f.GetApplicationFailureInfo().GetDetails().GetPayloads() {
			if enc := string(p.Metadata[converter.MetadataEncoding]); enc != Encoding {
				t.Errorf("details with encoding %q", enc)
			}
		}
	})
	if n != 2 {
		t.Fatalf("%d failures in the chain, want 2", n)
	}

	// With the key: message, cause and details as they were.
	// (FailureToError decodes in place: give it a copy.)
	back := fc.FailureToError(proto.Clone(f).(*failurepb.Failure))
	var appErr *temporal.ApplicationError
	if !errors.As(back, &appErr) || appErr.Message() != "step get failed: 422 from /orders/ORD-77" || appErr.Type() != "FlowFailed" {
		t.Fatalf("decoded: %v", back)
	}
	var rec stepRecord
	if err := appErr.Details(&rec); err != nil || rec.Body != "ACME-PRIVATE" {
		t.Fatalf("details: %+v %v", rec, err)
	}
	if !strings.Contains(back.Error(), "partner said: order ORD-77") {
		t.Fatalf("cause not decoded: %v", back)
	}

	// Without it: nothing but the placeholder, and the details do not decode.
	blind := temporal.GetDefaultFailureConverter().FailureToError(proto.Clone(f).(*failurepb.Failure))
	if !errors.As(blind, &appErr) || appErr.Message() != "Encoded failure" {
		t.Fatalf("without the key: %v", blind)
	}
	if err := appErr.Details(&rec); err == nil {
		t.Fatal("details decoded without the key")
	}

	// The codec endpoint the Web UI calls opens the encoded attributes
	// for people with credentials, which is how the UI shows the message.
	hs := httptest.NewServer(Handler(c, ServerOptions{Token: "ui"}))
	defer hs.Close()
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{f.GetEncodedAttributes()}})
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer ui")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out commonpb.Payloads
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if err := protojson.Unmarshal(buf.Bytes(), &out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("decode endpoint: %d %s %v", resp.StatusCode, buf.String(), err)
	}
	if !bytes.Contains(out.Payloads[0].Data, []byte("step get failed: 422 from /orders/ORD-77")) {
		t.Fatalf("decoded attributes: %s", out.Payloads[0].Data)
	}
}
