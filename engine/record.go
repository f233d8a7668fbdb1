package engine

import (
	"strings"
	"time"
)

// Record is the execution record of one run: what each step sent and got
// back. It is readable by the "record" query while the flow runs and is the
// workflow's result (or the details of its failure) when it ends. It never
// holds secret values: request headers that carry credentials are redacted
// by the step before they reach it.
type Record struct {
	WorkflowID string         `json:"workflow_id"`
	RunID      string         `json:"run_id,omitempty"`
	Flow       string         `json:"flow"`
	Kind       string         `json:"kind"`
	Status     string         `json:"status"` // running | succeeded | failed
	Start      time.Time      `json:"start"`
	End        *time.Time     `json:"end,omitempty"`
	Inputs     map[string]any `json:"inputs,omitempty"`
	Steps      []*StepRecord  `json:"steps"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	Error      *ErrorInfo     `json:"error,omitempty"`
	// Runs counts the workflow runs the execution took: a flow continues as
	// new when its history grows, carrying this record along.
	Runs int `json:"runs,omitempty"`
	// Notes are what an operator should know about the run although it did
	// not fail, such as a client certificate that expires soon.
	Notes []string `json:"notes,omitempty"`
	// StepsDropped counts the oldest step records removed whole to keep the
	// record under its limit, after dropping their details was not enough.
	StepsDropped int `json:"steps_dropped,omitempty"`
	// RetriedFrom is the execution this one retries; RetriedBy the
	// executions that retry this one (filled in when shown, carry.go).
	RetriedFrom string   `json:"retried_from,omitempty"`
	RetriedBy   []string `json:"retried_by,omitempty"`
	// Schedule is the schedule that started the execution, or whose run
	// it retries (filled in when shown, schedule_retry.go).
	Schedule string `json:"schedule,omitempty"`
	// Operations are what operators did to the execution (carry.go, hold.go).
	Operations []OperatorAction `json:"operations,omitempty"`
}

// Step statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusWaiting   = "waiting"
)

// StepStatuses are the statuses of a step record, in the order a step goes
// through them; the status of a flow is one of running, succeeded and
// failed.
var StepStatuses = []string{StatusRunning, StatusWaiting, StatusSkipped, StatusSucceeded, StatusFailed}

// StepRecord is the step output data of one step.
type StepRecord struct {
	// ID is the step's path: "get", "customer/get", "each[2]/post".
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// CarriedFrom is the execution whose result of this step a retry
	// carried over instead of running the step again.
	CarriedFrom string `json:"carried_from,omitempty"`
	Connection  string `json:"connection,omitempty"`
	TaskQueue   string `json:"task_queue,omitempty"`
	Agent       string `json:"agent,omitempty"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts,omitempty"`
	// CallPath is how a rest or soap step's calls ran: local, regular,
	// fast, or "fast, then regular" (fastpath.go); CallPathReason says why.
	CallPath       string `json:"call_path,omitempty"`
	CallPathReason string `json:"call_path_reason,omitempty"`
	// Polls counts the calls of a polling step.
	Polls    int       `json:"polls,omitempty"`
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`
	// Worker is the identity of the worker that ran the last attempt.
	Worker   string           `json:"worker,omitempty"`
	Request  *RequestSummary  `json:"request,omitempty"`
	Response *ResponseSummary `json:"response,omitempty"`
	TLS      *TLSFacts        `json:"tls,omitempty"`
	Auth     *AuthFacts       `json:"auth,omitempty"`
	Timings  *Timings         `json:"timings,omitempty"`
	Outputs  map[string]any   `json:"outputs,omitempty"`
	Error    *ErrorInfo       `json:"error,omitempty"`
	// Caught is the failure a try step's catch handled.
	Caught *ErrorInfo `json:"caught,omitempty"`
	// ChildExecution is the workflow ID of the execution a flow: step started.
	ChildExecution string `json:"child_execution,omitempty"`
	// Pages lists the pages of a paginated step, in order; Request and
	// Response above are the last page's.
	Pages []PageRecord `json:"pages,omitempty"`
	// Dropped says the step's request, response headers and body, TLS facts
	// and outputs were dropped from the record, oldest steps first, to keep
	// it under the record limit. Later steps' expressions still saw them.
	Dropped bool `json:"dropped,omitempty"`
}

// PageRecord is one page of a paginated step.
type PageRecord struct {
	Number     int       `json:"number"`
	URL        string    `json:"url"`
	StatusCode int       `json:"status_code,omitempty"`
	Items      int       `json:"items"`
	Attempts   int       `json:"attempts,omitempty"`
	Start      time.Time `json:"start"`
	Duration   Duration  `json:"duration"`
	// TotalMillis is the HTTP exchange's time on the worker.
	TotalMillis float64    `json:"total_ms,omitempty"`
	Error       *ErrorInfo `json:"error,omitempty"`
}

// ErrorInfo is a failure in words: a stable type and the message.
type ErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// RequestSummary is what a step sent, with credentials redacted.
type RequestSummary struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the request body as sent, capped like response bodies.
	Body string `json:"body,omitempty"`
}

// ResponseSummary is what a step got back.
type ResponseSummary struct {
	StatusCode int               `json:"status_code"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Body is the response text, capped at the plan's body limit; it is left
	// out when JSON holds the parsed body.
	Body string `json:"body,omitempty"`
	// BodySize is the body's size in bytes. When the body was truncated it
	// is the size the partner announced (Content-Length), or else a lower
	// bound: the rest of an over-limit body is not downloaded.
	BodySize      int64 `json:"body_size"`
	BodyTruncated bool  `json:"body_truncated,omitempty"`
	// BodyLimit is the limit the body was cut at, set when it was truncated.
	BodyLimit int64 `json:"body_limit,omitempty"`
	JSON      any   `json:"json,omitempty"`
	// SchemaMismatches lists how the body does not fit the connection's
	// OpenAPI document, for a step with validate_response: warn (or why it
	// could not be checked).
	SchemaMismatches []string `json:"schema_mismatches,omitempty"`
}

// Timings of one HTTP exchange, in milliseconds.
type Timings struct {
	DNSMillis       float64 `json:"dns_ms,omitempty"`
	ConnectMillis   float64 `json:"connect_ms,omitempty"`
	TLSMillis       float64 `json:"tls_ms,omitempty"`
	FirstByteMillis float64 `json:"first_byte_ms"`
	TotalMillis     float64 `json:"total_ms"`
}

// Step finds a step record by path.
func (r *Record) Step(id string) *StepRecord {
	for _, s := range r.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// MatchStepPath reports whether a step path of a record ("ack[2]/post") is named
// by a pattern that may write [*] for any foreach index ("ack[*]/post").
// Offline test mocks and step assertions name steps this way.
func MatchStepPath(pattern, path string) bool {
	if pattern == path {
		return true
	}
	parts := strings.Split(pattern, "[*]")
	if len(parts) == 1 {
		return false
	}
	rest := path
	for i, part := range parts {
		if !strings.HasPrefix(rest, part) {
			return false
		}
		rest = rest[len(part):]
		if i == len(parts)-1 {
			return rest == ""
		}
		end := strings.IndexByte(rest, ']')
		if !strings.HasPrefix(rest, "[") || end < 2 || strings.Trim(rest[1:end], "0123456789") != "" {
			return false
		}
		rest = rest[end+1:]
	}
	return false
}

// finished says a step record will not change any more.
func (s *StepRecord) finished() bool {
	return s.Status != StatusRunning && s.Status != StatusWaiting
}

// dropDetails keeps what a step did (status, code, sizes, timings, error)
// and drops what it sent and got.
func (s *StepRecord) dropDetails() {
	s.Request = nil
	if r := s.Response; r != nil {
		s.Response = &ResponseSummary{StatusCode: r.StatusCode, BodySize: r.BodySize, BodyTruncated: r.BodyTruncated}
	}
	s.TLS = nil
	s.Outputs = nil
	s.Dropped = true
}

// Progress is a small copy of the record for following a run: each step's
// path, kind, status, attempts, status code and body size, duration, worker
// and error, without requests, bodies, headers or TLS facts.
func (r *Record) Progress() *Record {
	p := *r
	p.Inputs, p.Outputs = nil, nil
	p.Steps = make([]*StepRecord, len(r.Steps))
	for i, s := range r.Steps {
		c := *s
		c.Request, c.TLS, c.Outputs, c.Timings = nil, nil, nil, nil
		if s.Response != nil {
			// The sizes are small and say what the body was; the body is not.
			c.Response = &ResponseSummary{StatusCode: s.Response.StatusCode, BodySize: s.Response.BodySize,
				BodyTruncated: s.Response.BodyTruncated, BodyLimit: s.Response.BodyLimit}
		}
		p.Steps[i] = &c
	}
	return &p
}
