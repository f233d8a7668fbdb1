package flows

// The types of a Test document, the offline tests of flows and actions. Like
// the types of types.go they are the YAML contract: their doc comments
// become the schema and the reference.

// Test is an offline test of a flow or action. `outflow test` runs its
// target with the inputs given, answers every REST and SOAP call from the
// mocks instead of the network, and checks the expectations. Keep tests
// beside what they test, in files such as `order-sync.test.yaml`.
type Test struct {
	// Always `Test`.
	Kind string `yaml:"kind" jsonschema:"required,enum=Test"`
	// The test's name, unique among the tests of the project and different from
	// every flow and action name, so that `outflow test NAME` means one thing.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the test checks.
	Description string `yaml:"description,omitempty"`
	// The name of the flow or action the test runs.
	Target string `yaml:"target" jsonschema:"required"`
	// The inputs of the run, by name: fixed values, checked against the inputs the target declares.
	Inputs map[string]any `yaml:"inputs,omitempty"`
	// The answers of the partner, by step path as the execution record names steps:
	// `get`, `customer/get` (a step of the action that step customer calls),
	// `ack[0]/post` (the first item of foreach ack) or `ack[*]/post` (every item).
	// A rest or soap step that runs without a mock fails the test: offline tests use no network.
	Mocks map[string]Mock `yaml:"mocks,omitempty"`
	// Events delivered to the run, as a partner's callback or `outflow executions send`
	// would: each to the flow's wait: {event} of its name. An event may arrive before
	// the flow waits for it.
	Events []TestEvent `yaml:"events,omitempty"`
	// What the run must end with. Default: the run succeeds.
	Expect *Expectation `yaml:"expect,omitempty"`
}

// Mock answers the calls of one step: one response, or a list of responses
// given in turn (a job that is `running` twice, then `done`; a 503 and then
// the retry's 200). Each response answers `times` calls; the last one of the
// list answers every further call unless it sets times.
type Mock []MockResponse

// MockResponse is one answer of a mocked partner: an HTTP response, or a
// failure of the network.
type MockResponse struct {
	// The HTTP status code. Default: 200.
	Status int `yaml:"status,omitempty" jsonschema:"minimum=100,maximum=599"`
	// Response headers. Default Content-Type: `application/json` for a mapping or list body,
	// the SOAP content type for a soap step.
	Headers Scalars `yaml:"headers,omitempty"`
	// The body. A mapping or list is sent as JSON; for a soap step, as the elements of the
	// SOAP Body, shaped as the step's `body` result reads them (`Fault` makes a SOAP fault).
	// A string is sent as it is: raw text, JSON or a whole SOAP envelope.
	Body any `yaml:"body,omitempty"`
	// Fail the call as the network would instead of answering: `connection` (refused),
	// `timeout` or `tls` (a failed handshake). The step retries as it would for real.
	Error string `yaml:"error,omitempty" jsonschema:"enum=connection,enum=timeout,enum=tls"`
	// How many calls this response answers before the next one of the list takes over.
	// Default: 1, and every further call for the last response of the list.
	Times int `yaml:"times,omitempty" jsonschema:"minimum=1"`
}

// Expectation is what a test run must end with.
type Expectation struct {
	// How the run ends: `succeeded` or `failed`. Default: succeeded, or failed when error is given.
	Status string `yaml:"status,omitempty" jsonschema:"enum=succeeded,enum=failed"`
	// Text the error of a failed run contains.
	Error string `yaml:"error,omitempty"`
	// Outputs the run must have, by name. Mappings match when they hold the fields given,
	// lists when they have as many elements and each matches; see outputs_match.
	Outputs map[string]any `yaml:"outputs,omitempty"`
	// `subset` (default): only the outputs and fields given are compared.
	// `exact`: the outputs must be exactly those given.
	OutputsMatch string `yaml:"outputs_match,omitempty" jsonschema:"enum=subset,enum=exact,default=subset"`
	// Checks of step output data, by step path (as under mocks; `ack[*]/post` checks every item).
	Steps map[string]StepExpectation `yaml:"steps,omitempty"`
	// Expressions that must be true, such as `${{ outputs.acknowledged == 3 }}`. They read
	// `outputs`, `inputs`, `steps` (the step records by path:
	// `steps['customer/get'].response.json.name`) and `record` (the whole execution record).
	Assert []Assertion `yaml:"assert,omitempty"`
}

// StepExpectation checks the output data of one step.
type StepExpectation struct {
	// The step's status: `succeeded`, `failed` or `skipped`.
	Status string `yaml:"status,omitempty" jsonschema:"enum=succeeded,enum=failed,enum=skipped"`
	// The HTTP status code of the response the step got.
	StatusCode int `yaml:"status_code,omitempty" jsonschema:"minimum=100,maximum=599"`
	// How many calls the step made, retries and polls included.
	Calls int `yaml:"calls,omitempty" jsonschema:"minimum=1"`
	// What the step sent.
	Request *RequestExpectation `yaml:"request,omitempty"`
	// Text the step's error contains.
	Error string `yaml:"error,omitempty"`
	// Outputs of an action step, matched as the outputs of the run are with `subset`.
	Outputs map[string]any `yaml:"outputs,omitempty"`
}

// RequestExpectation checks what a rest or soap step sent.
type RequestExpectation struct {
	// The HTTP method, such as `POST`.
	Method string `yaml:"method,omitempty"`
	// The whole URL, query included, such as `https://api.partner.example/v2/orders/7/ack`.
	URL string `yaml:"url,omitempty"`
	// Headers the request had, by name (any case). Credentials read `[redacted]`.
	Headers Scalars `yaml:"headers,omitempty"`
	// The body: a string must equal the body sent; a mapping or list is compared with the
	// JSON body sent, field by field as outputs are with `subset`.
	Body any `yaml:"body,omitempty"`
	// Text the body sent contains, such as `<OrderId>42</OrderId>`.
	BodyContains string `yaml:"body_contains,omitempty"`
}

// Assertion is an expression that must be true after the run, such as
// `${{ len(steps) == 4 }}`; one `${{ ... }}`, reading `outputs`, `inputs`,
// `steps` and `record`.
type Assertion string
