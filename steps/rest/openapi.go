package rest

import (
	"fmt"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// maxMismatchesInMessage caps how many mismatches a ResponseRejected
// failure lists; the record's schema_mismatches has up to ten.
const maxMismatchesInMessage = 3

// checkResponse checks a response against the response schemas of the
// step's OpenAPI operation (validate_response). With "fail" a mismatch is
// an error to fail the step with (ResponseRejected); with "warn" it is
// noted in the response summary. Mismatches name paths and what the schema
// wants, never the partner's values.
func checkResponse(req *engine.RestRequest, rs *engine.ResponseSummary, contentType, what string) error {
	if req.Responses == nil || req.ValidateResponse == "" {
		return nil
	}
	if rs.BodyTruncated {
		rs.SchemaMismatches = []string{fmt.Sprintf("not checked: the body was cut at the body limit (%d bytes)", rs.BodyLimit)}
		return nil
	}
	ms := req.Responses.Check(rs.StatusCode, contentType, rs.JSON, rs.JSON != nil)
	if len(ms) == 0 {
		return nil
	}
	lines := make([]string, len(ms))
	for i, m := range ms {
		lines[i] = m.String()
	}
	rs.SchemaMismatches = lines
	if req.ValidateResponse != "fail" {
		return nil
	}
	shown := lines
	more := ""
	if len(shown) > maxMismatchesInMessage {
		more = fmt.Sprintf("; and %d more in the record", len(shown)-maxMismatchesInMessage)
		shown = shown[:maxMismatchesInMessage]
	}
	return fmt.Errorf("%s answered %d with a response that does not fit %s of the connection's OpenAPI document: %s%s",
		what, rs.StatusCode, req.Responses.Operation, strings.Join(shown, "; "), more)
}
