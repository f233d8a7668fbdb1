package flows

// The types in this file are the YAML contract of an Outflow project. Their
// doc comments are the documentation: the JSON Schema for editors
// (schema/outflow.schema.json) and the field reference (docs/reference.md) are
// generated from them, and the loader enforces the same `jsonschema` tags
// (required, enum, pattern, minimum, maximum, minItems) that the schema states.
// Regenerate both with `go generate ./flows` after changing anything here.

// Kinds of documents a project holds.
const (
	KindFlow            = "Flow"
	KindAction          = "Action"
	KindConnection      = "Connection"
	KindProtocolProfile = "ProtocolProfile"
	KindProject         = "Project"
	KindTest            = "Test"
)

// kinds lists the kinds in the order messages name them.
var kinds = []string{KindFlow, KindAction, KindConnection, KindProtocolProfile, KindProject, KindTest}

// Flow is a sequence of steps that runs as one durable execution, started by
// hand (`outflow run`) or by a trigger.
type Flow struct {
	// Always `Flow`.
	Kind string `yaml:"kind" jsonschema:"required,enum=Flow"`
	// The flow's name, unique among the flows and actions of the project: `outflow run NAME`.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the flow is for.
	Description string `yaml:"description,omitempty"`
	// The values a run is given, by name. Expressions read them as `inputs.NAME`.
	Inputs map[string]Input `yaml:"inputs,omitempty"`
	// Named values computed once before the first step, in the order written;
	// each may use inputs and the vars above it. Expressions read them as `vars.NAME`.
	Vars map[string]any `yaml:"vars,omitempty"`
	// What starts the flow without a person.
	Triggers []Trigger `yaml:"triggers,omitempty"`
	// The steps, run in order.
	Steps []Step `yaml:"steps" jsonschema:"required,minItems=1"`
	// The results of a run, computed after the last step in the order written;
	// values may use inputs, vars and steps.
	Outputs map[string]any `yaml:"outputs,omitempty"`
	// Steps that run when the flow fails, before the failure is returned,
	// with `error` readable (type, message, step, status_code). They are
	// recorded as `on_failure/ID`; the flow fails whatever they do. A
	// canceled flow runs them too, with `error.type` Canceled, after the
	// finally steps of the step it was canceled in.
	OnFailure []Step `yaml:"on_failure,omitempty"`
	// Whether the flow's rest and soap steps (and those of the actions it
	// calls) hold for an operator when they fail after their retries, instead
	// of failing the flow; a step's own `hold_on_failure` wins. Default: the
	// project's (`outflow.yaml`), else false.
	HoldOnFailure *bool `yaml:"hold_on_failure,omitempty"`
}

// Action is a reusable sequence of steps with inputs and outputs, called from
// flows and other actions by a step with `action: NAME`, and test-run on its
// own with `outflow test NAME`.
type Action struct {
	// Always `Action`.
	Kind string `yaml:"kind" jsonschema:"required,enum=Action"`
	// The action's name, unique among the flows and actions of the project.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the action does.
	Description string `yaml:"description,omitempty"`
	// The values a caller passes with `with:`, by name. Expressions read them as `inputs.NAME`.
	Inputs map[string]Input `yaml:"inputs,omitempty"`
	// The steps, run in order. They see the action's inputs and steps only.
	Steps []Step `yaml:"steps" jsonschema:"required,minItems=1"`
	// The results of the action, computed after its last step. The calling
	// step exposes them as `steps.ID.outputs.NAME`.
	Outputs map[string]any `yaml:"outputs,omitempty"`
	// Steps that run when the action fails, before the failure is returned
	// to the calling step, with `error` readable. They are recorded as
	// `CALL/on_failure/ID`; the action fails whatever they do.
	OnFailure []Step `yaml:"on_failure,omitempty"`
}

// Input declares one input of a flow or action.
type Input struct {
	// The type a value must have. Values given on the command line are converted to it.
	Type string `yaml:"type,omitempty" jsonschema:"enum=string,enum=number,enum=integer,enum=boolean,enum=object,enum=array,enum=any,default=any"`
	// A run or call without this input is refused. An input with a default is never missing.
	Required bool `yaml:"required,omitempty"`
	// What the input means.
	Description string `yaml:"description,omitempty"`
	// The value used when none is given.
	Default any `yaml:"default,omitempty"`
	// The value is sensitive: it is redacted from execution records.
	Secret bool `yaml:"secret,omitempty"`
}

// Trigger starts a flow without a person. Give schedule or webhook.
type Trigger struct {
	// Run the flow on a calendar or at a fixed interval (a Temporal Schedule).
	Schedule *Schedule `yaml:"schedule,omitempty"`
	// Run the flow when the gateway receives a request (webhook.go, docs/events.md).
	Webhook *Webhook `yaml:"webhook,omitempty"`
}

// Schedule runs a flow on a cron calendar or at a fixed interval; give exactly
// one of cron and every.
type Schedule struct {
	// A cron calendar: minute hour day-of-month month day-of-week, such as `0 2 * * *`,
	// or one of @yearly, @monthly, @weekly, @daily, @hourly.
	Cron string `yaml:"cron,omitempty"`
	// A fixed interval between runs, such as `15m` or `1h`.
	Every Duration `yaml:"every,omitempty"`
	// The IANA time zone the cron calendar is read in, such as `Europe/Berlin`. Default: UTC.
	Timezone string `yaml:"timezone,omitempty"`
	// Create the schedule paused; start it with `outflow schedules unpause`.
	Paused bool `yaml:"paused,omitempty"`
	// The inputs each scheduled run is given.
	Inputs map[string]any `yaml:"inputs,omitempty"`
	// What happens when a run is due while the previous one still runs: `skip` (default),
	// `buffer_one`, `buffer_all`, `cancel_other`, `terminate_other` or `allow_all`.
	Overlap string `yaml:"overlap,omitempty" jsonschema:"enum=skip,enum=buffer_one,enum=buffer_all,enum=cancel_other,enum=terminate_other,enum=allow_all"`
	// How late a run missed while the server was down may still start. Default: Temporal's (a year).
	CatchupWindow Duration `yaml:"catchup_window,omitempty"`
	// Delay each run by a random time up to this long, so that many schedules due at the
	// same minute do not call a partner all at once.
	Jitter Duration `yaml:"jitter,omitempty"`
	// Pause the schedule when a run fails, so that a broken integration does not fail again
	// every interval until someone looks.
	PauseOnFailure bool `yaml:"pause_on_failure,omitempty"`
}

// Retry says how failed attempts of a step are retried. Responses with status
// 4xx (except 408 and 429) and configuration errors are never retried.
type Retry struct {
	// Attempts in all, the first included; 1 means no retry. Default: 5.
	MaxAttempts int `yaml:"max_attempts,omitempty" jsonschema:"minimum=1"`
	// The wait before the first retry. Default: 1s.
	InitialInterval Duration `yaml:"initial_interval,omitempty"`
	// Each wait is the previous one times this. Default: 2.
	BackoffCoefficient float64 `yaml:"backoff_coefficient,omitempty" jsonschema:"minimum=1"`
	// The longest wait between attempts. Default: 1m.
	MaxInterval Duration `yaml:"max_interval,omitempty"`
}

// Connection is a connection alias: the name steps call through, holding
// where requests go and how they authenticate. Give either url or host.
type Connection struct {
	// Always `Connection`.
	Kind string `yaml:"kind" jsonschema:"required,enum=Connection"`
	// The alias steps refer to with `connection:`.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the connection is for.
	Description string `yaml:"description,omitempty"`
	// The base URL, such as `https://api.partner.example:8443/v2`: scheme, host, optional port and base path.
	URL string `yaml:"url,omitempty"`
	// The host name or IP address, without scheme or path.
	Host string `yaml:"host,omitempty"`
	// The TCP port. Default: the protocol profile's port, else 443 for https and 80 for http.
	Port int `yaml:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// `https` (default) or `http`.
	Scheme string `yaml:"scheme,omitempty" jsonschema:"enum=https,enum=http,default=https"`
	// The path every step's path is joined to, such as `/v2`.
	BasePath string `yaml:"base_path,omitempty"`
	// Present a client certificate (mTLS) from the protocol profile's keystore.
	// Needs `protocol_profile` and `host` (or `url`).
	MutualAuth bool `yaml:"mutual_auth,omitempty"`
	// The name of the ProtocolProfile that says how TLS is done: keystore, trust, versions.
	ProtocolProfile string `yaml:"protocol_profile,omitempty"`
	// How requests authenticate.
	Credential *Credential `yaml:"credential,omitempty"`
	// Run the steps of this connection on the workers of this agent group,
	// such as a worker inside the partner's network zone. Default: any worker of the project.
	Agent string `yaml:"agent,omitempty" jsonschema:"pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// Headers sent with every request of this connection.
	Headers Scalars `yaml:"headers,omitempty"`
	// How long one attempt of a step may take when the step sets no timeout. Default: 1m.
	Timeout Duration `yaml:"timeout,omitempty"`
	// The partner's OpenAPI 3.0 or 3.1 (or Swagger 2.0) document, JSON or YAML, with $refs
	// across files: a file in the project, relative to the project folder; or an http(s) URL
	// on the connection's host, fetched (with the documents it refers to) through the
	// connection's credential and mTLS when the project is loaded, and kept in .outflow/openapi/
	// so later loads need no network (`outflow openapi fetch` fetches again). The connection
	// takes the place of the document's servers. Its REST steps may then name `operation:`,
	// and the loader checks their paths, parameters, bodies, expect codes and the response
	// fields expressions read.
	OpenAPI string `yaml:"openapi,omitempty"`
	// Refuse parameters the OpenAPI document does not declare (an error) rather than warn.
	OpenAPIStrict bool `yaml:"openapi_strict,omitempty"`
}

// Credential authenticates the requests of a connection. Secret values are
// given only by reference.
type Credential struct {
	// `basic` (username and password), `bearer` (token), `api_key` (value, sent as key in a header or the query)
	// or `oauth2_client_credentials` (an OAuth 2.0 access token the worker gets from token_url and caches).
	Type string `yaml:"type" jsonschema:"required,enum=basic,enum=bearer,enum=api_key,enum=oauth2_client_credentials"`
	// basic: the user name.
	Username string `yaml:"username,omitempty"`
	// basic: the password.
	Password *SecretRef `yaml:"password,omitempty"`
	// bearer: the token sent as `Authorization: Bearer TOKEN`.
	Token *SecretRef `yaml:"token,omitempty"`
	// api_key: send the key in a `header` (default) or in the `query`.
	In string `yaml:"in,omitempty" jsonschema:"enum=header,enum=query,default=header"`
	// api_key: the header or query parameter name. Default: X-API-Key.
	Key string `yaml:"key,omitempty"`
	// api_key: the key's value.
	Value *SecretRef `yaml:"value,omitempty"`
	// oauth2_client_credentials: the token endpoint. An absolute https URL, or a reference resolved
	// against the connection's URL: `/oauth2/token` replaces the base path, `token` is appended to it.
	// The token request goes through the connection's protocol profile, so it presents the same
	// client certificate as the API calls.
	TokenURL string `yaml:"token_url,omitempty"`
	// oauth2_client_credentials: the client identifier the authorization server issued.
	ClientID string `yaml:"client_id,omitempty"`
	// oauth2_client_credentials: the client secret, for `client_secret_basic` and `client_secret_post`.
	ClientSecret *SecretRef `yaml:"client_secret,omitempty"`
	// oauth2_client_credentials: how the client authenticates to the token endpoint.
	// `client_secret_basic` (default; HTTP Basic with client_id and client_secret),
	// `client_secret_post` (both in the form), `tls_client_auth` (RFC 8705: by the connection's
	// CA-issued client certificate, no secret), `self_signed_tls_client_auth` (RFC 8705: by a
	// self-signed client certificate registered with the server), or `private_key_jwt` (RFC 7523:
	// a JWT signed with private_key, else with the key of the connection's client certificate).
	// The TLS methods need `mutual_auth: true` and a protocol profile with a keystore.
	ClientAuth string `yaml:"client_auth,omitempty" jsonschema:"enum=client_secret_basic,enum=client_secret_post,enum=tls_client_auth,enum=self_signed_tls_client_auth,enum=private_key_jwt,default=client_secret_basic"`
	// oauth2_client_credentials: the scopes to ask for, sent space-separated as `scope`.
	// Tokens are cached per connection and scopes.
	Scopes []string `yaml:"scopes,omitempty"`
	// oauth2_client_credentials: the `audience` parameter, for servers that want the API named.
	Audience string `yaml:"audience,omitempty"`
	// oauth2_client_credentials: the `resource` parameter (RFC 8707), the API's URL.
	Resource string `yaml:"resource,omitempty"`
	// oauth2_client_credentials: more form parameters of the token request, fixed values.
	Params Scalars `yaml:"params,omitempty"`
	// oauth2_client_credentials with `private_key_jwt`: the keystore whose key signs the client
	// assertion, relative to the project folder. Default: the connection's client certificate key.
	PrivateKey *Keystore `yaml:"private_key,omitempty"`
	// oauth2_client_credentials with `private_key_jwt`: the `kid` header of the client assertion.
	KeyID string `yaml:"key_id,omitempty"`
	// oauth2_client_credentials: how long before the access token expires a new one is fetched.
	// Default: 1m, and at most half the token's lifetime.
	RefreshBefore Duration `yaml:"refresh_before,omitempty"`
}

// SecretRef names a secret kept outside the project; only the reference is
// ever stored, and the worker that runs a step resolves it.
type SecretRef struct {
	// Where the secret is. The providers, their description in the schema
	// and reference, and the pattern come from engine.SecretSchemes.
	Secret string `yaml:"secret" jsonschema:"required"`
}

// ProtocolProfile says how TLS is done for the connections that use it: the
// client certificate presented for mutual authentication, the certificates
// trusted for servers, and the protocol versions.
type ProtocolProfile struct {
	// Always `ProtocolProfile`.
	Kind string `yaml:"kind" jsonschema:"required,enum=ProtocolProfile"`
	// The name connections refer to with `protocol_profile:`. `http` and `https` are reserved.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the profile is for.
	Description string `yaml:"description,omitempty"`
	// The default port of connections that use this profile and set none.
	Port int `yaml:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// The client key and certificate chain presented when a connection sets `mutual_auth: true`.
	Keystore *Keystore `yaml:"keystore,omitempty"`
	// The certificates trusted for servers. Default: the system's roots.
	Truststore *Truststore `yaml:"truststore,omitempty"`
	// The name checked against the server certificate and sent as SNI. Default: the connection's host.
	ServerName string `yaml:"server_name,omitempty"`
	// The lowest TLS version allowed: `1.2` (default) or `1.3`.
	MinVersion TLSVersion `yaml:"min_version,omitempty"`
	// Do not verify the server's certificate. For testing only: anyone on the path can
	// read and change the traffic. The loader warns when it is set.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
	// Whether the server's chain is checked for revoked certificates.
	Revocation *Revocation `yaml:"revocation,omitempty"`
	// Where the keystore and its passwords live: `project` (default; files in the project folder),
	// `agent` (files on the agent's machine, which never leave it), or `vault`.
	Store string `yaml:"store,omitempty" jsonschema:"enum=project,enum=agent,enum=vault,default=project"`
	// The agent groups that may use this profile: `all` (default) or a list of agent names.
	AppliesTo AppliesTo `yaml:"applies_to,omitempty"`
	// How long before a certificate expires Outflow warns about it. Default: 720h (30 days).
	ExpiryWarning Duration `yaml:"expiry_warning,omitempty"`
}

// Keystore is where a profile's client key and certificate chain live: a
// JKS, PKCS#12 or PEM file (path), a certificate and key as separate PEM
// files (certificate, key, chain), a certificate Vault's PKI engine issues
// (vault_pki), or a key in a PKCS#11 token (pkcs11 with certificate).
type Keystore struct {
	// The keystore file, JKS, PKCS#12 or PEM detected from its content. For `store: project`, relative
	// to the project folder, or an absolute path read on the machine of the worker that runs the step;
	// for `store: agent`, a path on the agent's machine; for `store: vault`, the secret's path.
	Path string `yaml:"path,omitempty"`
	// The password of the keystore file; with `key`, of an encrypted private key.
	Password *SecretRef `yaml:"password,omitempty"`
	// The password of the private key, when it differs from the keystore's.
	KeyPassword *SecretRef `yaml:"key_password,omitempty"`
	// Which private-key entry to use when the keystore file holds several.
	Alias string `yaml:"alias,omitempty"`
	// The client certificate as a PEM file (a Kubernetes TLS secret's `tls.crt`), possibly followed by
	// intermediates: with `key` instead of `path`, or the certificate of the `pkcs11` key. Relative to the
	// project folder, or absolute (read on the worker). A new certificate and key are presented from the
	// next handshake once both files changed.
	Certificate string `yaml:"certificate,omitempty"`
	// The private key of `certificate` as a PEM file (`tls.key`): PKCS#1, PKCS#8, encrypted PKCS#8
	// (its password in `password`) or EC.
	Key string `yaml:"key,omitempty"`
	// More of the chain as a PEM file (`ca.crt`): intermediates (sent with the certificate) and the
	// root (not sent).
	Chain string `yaml:"chain,omitempty"`
	// Have Vault's PKI secrets engine issue the certificate and key when the worker first needs them,
	// through the worker's `secrets.vault`; the key stays in the worker's memory, and a new certificate
	// is issued at two thirds of the lifetime.
	VaultPKI *VaultPKI `yaml:"vault_pki,omitempty"`
	// Sign with a key that stays in a PKCS#11 token (a hardware security module); `certificate` is its
	// certificate. Needs an outflow binary built with cgo.
	PKCS11 *PKCS11 `yaml:"pkcs11,omitempty"`
}

// Truststore is the set of CA certificates a profile trusts for servers.
type Truststore struct {
	// PEM or DER certificate files, or JKS/PKCS#12 stores of trusted certificates: relative to the project
	// folder, or absolute paths read on the machine of the worker that runs the step.
	Paths []string `yaml:"paths,omitempty"`
	// The password of JKS or PKCS#12 trust stores.
	Password *SecretRef `yaml:"password,omitempty"`
	// Trust the system's root certificates as well as paths.
	SystemRoots bool `yaml:"system_roots,omitempty"`
}

// Revocation configures revocation checks (OCSP, CRL) of the server's
// certificate chain.
type Revocation struct {
	// `off` (default), `fail_open` (a check that cannot be made passes) or
	// `fail_closed` (a check that cannot be made fails the handshake).
	Mode string `yaml:"mode" jsonschema:"required,enum=off,enum=fail_open,enum=fail_closed"`
}

// ProjectSettings holds project-wide settings, as a document of kind
// Project. It lives in `outflow.yaml` at the root of the project folder; the
// file is optional.
type ProjectSettings struct {
	// Always `Project`.
	Kind string `yaml:"kind" jsonschema:"required,enum=Project"`
	// The project's name.
	Name string `yaml:"name" jsonschema:"required,pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// What the project is for.
	Description string `yaml:"description,omitempty"`
	// How much of a response body is kept in step output data, in bytes or with a unit
	// such as `512KiB` or `1MB`. Default: 256KiB.
	BodyLimit ByteSize `yaml:"body_limit,omitempty"`
	// The Temporal task queue flows and agent-less steps run on. Default: `outflow`.
	TaskQueue string `yaml:"task_queue,omitempty" jsonschema:"pattern=^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	// How many history events a flow execution collects before it continues as a new
	// execution at the next safe point, so that a flow that polls for weeks keeps a bounded
	// history. Default: 5000.
	HistoryLimit int `yaml:"history_limit,omitempty" jsonschema:"minimum=100,maximum=50000"`
	// How large an execution record may grow, in bytes of JSON or with a unit such as
	// `512KiB`. Past it the oldest finished steps lose their request, response and TLS
	// details (marked `dropped`), then the oldest are removed whole (counted in
	// `steps_dropped`); later steps' expressions still read their answers. The record
	// is a query answer and the workflow result, which Temporal limits to 2 MB.
	// Default: 1MiB.
	RecordLimit ByteSize `yaml:"record_limit,omitempty"`
	// The default `hold_on_failure` of every flow's rest and soap steps: a
	// step that fails after its retries holds its execution for an operator
	// (`outflow executions resume`). Default: false.
	HoldOnFailure bool `yaml:"hold_on_failure,omitempty"`
	// The gateway for inbound events and webhooks (docs/events.md).
	Gateway *GatewaySettings `yaml:"gateway,omitempty"`
}
