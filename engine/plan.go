package engine

import (
	"time"
)

// Plan is a compiled flow or action, ready to run. It is plain data: it is
// serialized into the workflow's input and kept in its history.
type Plan struct {
	// Name is the flow or action the plan runs.
	Name string `json:"name"`
	// Kind is "Flow" or "Action".
	Kind string `json:"kind"`
	// Source is "file:line" of the document the plan came from.
	Source string `json:"source,omitempty"`
	// ProjectRoot is the absolute project folder on the machine that compiled
	// the plan; relative file paths in profiles are resolved against it when the
	// worker has no project folder of its own.
	ProjectRoot string `json:"project_root,omitempty"`

	Inputs  []InputSpec `json:"inputs,omitempty"`
	Vars    []Binding   `json:"vars,omitempty"`
	Steps   []Step      `json:"steps"`
	Outputs []Binding   `json:"outputs,omitempty"`

	// Actions, Connections and Profiles hold every definition reachable from
	// Steps, keyed by name.
	Actions     map[string]*ActionDef       `json:"actions,omitempty"`
	Connections map[string]*Connection      `json:"connections,omitempty"`
	Profiles    map[string]*ProtocolProfile `json:"profiles,omitempty"`
	Triggers    []Trigger                   `json:"triggers,omitempty"`
	Settings    Settings                    `json:"settings"`
	// Flows holds the plans of the flows reachable through flow: steps,
	// keyed by name; each is complete but for Flows, which a child gets
	// from its parent.
	Flows map[string]*Plan `json:"flows,omitempty"`
	// OnFailure runs when the flow fails, before the failure is returned,
	// with `error` bound to it.
	OnFailure []Step `json:"on_failure,omitempty"`
	// HoldOnFailure is the flow's hold_on_failure: whether its rest and
	// soap steps wait for an operator when they fail (hold.go); nil follows
	// Settings.HoldOnFailure.
	HoldOnFailure *bool `json:"hold_on_failure,omitempty"`
}

// Settings are project-wide knobs that travel with the plan.
type Settings struct {
	// BodyLimit caps the response body kept in step output data, in bytes.
	BodyLimit int64 `json:"body_limit,omitempty"`
	// DefaultTaskQueue is where steps without an agent run.
	DefaultTaskQueue string `json:"default_task_queue,omitempty"`
	// HistoryLimit is the number of history events after which a flow
	// continues as new at the next safe point (between top-level steps, or
	// between polls), so that a flow looping for weeks keeps a bounded
	// history. 0 means DefaultHistoryLimit.
	HistoryLimit int `json:"history_limit,omitempty"`
	// RecordLimit bounds the execution record, in bytes of JSON: past it the
	// details of the oldest finished steps are dropped. 0 means
	// DefaultRecordLimit.
	RecordLimit int64 `json:"record_limit,omitempty"`
	// HoldOnFailure is the project's default hold_on_failure (hold.go).
	HoldOnFailure bool `json:"hold_on_failure,omitempty"`
	// GatewayURL is the gateway's public base URL (gateway.public_url of
	// outflow.yaml), where callback_url points; empty means the worker's.
	GatewayURL string `json:"gateway_url,omitempty"`
}

// DefaultRecordLimit is the execution record size kept when a project sets
// none: 1 MiB, half of Temporal's default 2 MB payload limit, which the
// record must pass as query answer, workflow result and continue-as-new input.
const DefaultRecordLimit = 1 << 20

// DefaultBodyLimit is the response body size kept in step output data when a
// project sets none: 256 KiB.
const DefaultBodyLimit = 256 << 10

// DefaultHistoryLimit is the history length after which a flow continues as new.
const DefaultHistoryLimit = 5000

// InputSpec declares one input of a flow or action.
type InputSpec struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"` // string | number | integer | boolean | object | array | any
	Required    bool   `json:"required,omitempty"`
	Default     any    `json:"default,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	Description string `json:"description,omitempty"`
}

// Binding is a named value that may contain expressions (vars, outputs).
// Bindings are ordered so that evaluation is deterministic and later ones can
// refer to earlier ones.
type Binding struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// ActionDef is a reusable, named sequence of steps with inputs and outputs.
type ActionDef struct {
	Name    string      `json:"name"`
	Source  string      `json:"source,omitempty"`
	Inputs  []InputSpec `json:"inputs,omitempty"`
	Steps   []Step      `json:"steps"`
	Outputs []Binding   `json:"outputs,omitempty"`
	// OnFailure runs when the action fails, before the failure is
	// returned, with `error` bound to it.
	OnFailure []Step `json:"on_failure,omitempty"`
}

// RetryPolicy maps onto Temporal's retry policy.
type RetryPolicy struct {
	MaxAttempts        int      `json:"max_attempts,omitempty"`
	InitialInterval    Duration `json:"initial_interval,omitempty"`
	BackoffCoefficient float64  `json:"backoff_coefficient,omitempty"`
	MaxInterval        Duration `json:"max_interval,omitempty"`
}

// Duration is a time.Duration that reads and writes as "1m30s" in JSON.
type Duration time.Duration

// SecretRef names a secret held elsewhere, by a reference of one of the
// SecretSchemes ("env:NAME"). Only the reference is ever stored.
type SecretRef struct {
	Ref string `json:"secret"`
}

// Connection is a connection alias: where a step's requests go and how they
// authenticate.
type Connection struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Scheme, Host, Port and BasePath make the base URL; Port 0 means the
	// profile's port or the scheme's default.
	Scheme          string      `json:"scheme"`
	Host            string      `json:"host"`
	Port            int         `json:"port,omitempty"`
	BasePath        string      `json:"base_path,omitempty"`
	MutualAuth      bool        `json:"mutual_auth,omitempty"`
	ProtocolProfile string      `json:"protocol_profile,omitempty"`
	Credential      *Credential `json:"credential,omitempty"`
	Agent           string      `json:"agent,omitempty"`
	Headers         []Binding   `json:"headers,omitempty"`
	Timeout         Duration    `json:"timeout,omitempty"`
}

// Credential authenticates requests of a connection.
type Credential struct {
	Type     string     `json:"type"` // basic | bearer | api_key | oauth2_client_credentials
	Username string     `json:"username,omitempty"`
	Password *SecretRef `json:"password,omitempty"`
	Token    *SecretRef `json:"token,omitempty"`
	// api_key: sent as header Name (default X-API-Key) or query parameter Name.
	In    string     `json:"in,omitempty"` // header | query
	Key   string     `json:"key,omitempty"`
	Value *SecretRef `json:"value,omitempty"`

	// The fields below are those of type oauth2_client_credentials: the
	// worker gets an access token with the client credentials grant (RFC
	// 6749 §4.4) and sends it as a bearer token.

	// TokenURL is the token endpoint: an absolute URL, or a reference
	// resolved against the connection's base URL ("/oauth2/token" replaces
	// the base path, "token" is appended to it).
	TokenURL string `json:"token_url,omitempty"`
	// ClientID is the client identifier the authorization server issued.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the client's secret, for client_secret_basic and
	// client_secret_post.
	ClientSecret *SecretRef `json:"client_secret,omitempty"`
	// ClientAuth is how the client authenticates to the token endpoint:
	// client_secret_basic (the default), client_secret_post,
	// tls_client_auth or self_signed_tls_client_auth (RFC 8705: by the
	// client certificate of the connection's profile, no secret), or
	// private_key_jwt (RFC 7523: a JWT signed with PrivateKey, else with the
	// key of the connection's client certificate).
	ClientAuth string `json:"client_auth,omitempty"`
	// Scopes are requested as the space-separated scope parameter.
	Scopes []string `json:"scopes,omitempty"`
	// Audience and Resource (RFC 8707) name the API the token is for, for
	// servers that want them.
	Audience string `json:"audience,omitempty"`
	Resource string `json:"resource,omitempty"`
	// Params are extra form parameters of the token request, sorted by name.
	Params []KV `json:"params,omitempty"`
	// PrivateKey is the keystore whose key signs the private_key_jwt client
	// assertion. Nil means the key of the connection's client certificate.
	PrivateKey *Keystore `json:"private_key,omitempty"`
	// KeyID is the kid header of the client assertion.
	KeyID string `json:"key_id,omitempty"`
	// RefreshBefore is how long before a token expires a new one is
	// fetched; 0 means a minute, and never more than half the token's
	// lifetime.
	RefreshBefore Duration `json:"refresh_before,omitempty"`
}

// OAuth2ClientCredentials is the credential type that gets an OAuth 2.0
// access token with the client credentials grant.
const OAuth2ClientCredentials = "oauth2_client_credentials"

// OAuth 2.0 client authentication methods (RFC 6749 §2.3, RFC 8705 §2,
// RFC 7523 §2.2), as the client_auth of a credential names them.
const (
	ClientSecretBasic       = "client_secret_basic"
	ClientSecretPost        = "client_secret_post"
	TLSClientAuth           = "tls_client_auth"
	SelfSignedTLSClientAuth = "self_signed_tls_client_auth"
	PrivateKeyJWT           = "private_key_jwt"
	DefaultOAuth2ClientAuth = ClientSecretBasic
)

// ProtocolProfile says how TLS is done for the connections that use it.
type ProtocolProfile struct {
	Name       string      `json:"name"`
	Source     string      `json:"source,omitempty"`
	Port       int         `json:"port,omitempty"`
	Keystore   *Keystore   `json:"keystore,omitempty"`
	Truststore *Truststore `json:"truststore,omitempty"`
	ServerName string      `json:"server_name,omitempty"`
	MinVersion string      `json:"min_version,omitempty"` // "1.2" | "1.3"
	// InsecureSkipVerify disables server certificate verification; for tests only.
	InsecureSkipVerify bool        `json:"insecure_skip_verify,omitempty"`
	Revocation         *Revocation `json:"revocation,omitempty"`
	Store              string      `json:"store,omitempty"`      // project | agent | vault
	AppliesTo          []string    `json:"applies_to,omitempty"` // empty = all agents
	// ExpiryWarning is how long before a certificate expires Outflow warns.
	ExpiryWarning Duration `json:"expiry_warning,omitempty"`
}

// Keystore is where a profile's client key and certificate chain live: one
// keystore file (Path), a certificate and key as separate files, a
// certificate issued by Vault's PKI engine, or a key in a PKCS#11 token
// (see keystore.go for the forms).
type Keystore struct {
	Path        string     `json:"path,omitempty"`
	Password    *SecretRef `json:"password,omitempty"`
	KeyPassword *SecretRef `json:"key_password,omitempty"`
	Alias       string     `json:"alias,omitempty"`
	// Certificate, Key and Chain are PEM files: the client certificate (it
	// may carry intermediates after it), its private key, and more of the
	// chain. With PKCS11, Certificate is the certificate of the token's key.
	Certificate string    `json:"certificate,omitempty"`
	Key         string    `json:"key,omitempty"`
	Chain       string    `json:"chain,omitempty"`
	VaultPKI    *VaultPKI `json:"vault_pki,omitempty"`
	PKCS11      *PKCS11   `json:"pkcs11,omitempty"`
}

// Truststore is the set of CA certificates a profile trusts for servers.
type Truststore struct {
	Paths       []string   `json:"paths,omitempty"`
	Password    *SecretRef `json:"password,omitempty"`
	SystemRoots bool       `json:"system_roots,omitempty"`
}

// Revocation configures certificate revocation checks of the server chain.
type Revocation struct {
	Mode string `json:"mode"` // off | fail_open | fail_closed
}

// Trigger starts a flow without a person: a schedule.
type Trigger struct {
	Schedule *Schedule `json:"schedule,omitempty"`
	// Webhook starts the flow from a request to the gateway (webhook.go).
	Webhook *Webhook `json:"webhook,omitempty"`
}

// Schedule becomes a Temporal Schedule.
type Schedule struct {
	Cron     string    `json:"cron,omitempty"`
	Every    Duration  `json:"every,omitempty"`
	Timezone string    `json:"timezone,omitempty"`
	Paused   bool      `json:"paused,omitempty"`
	Inputs   []Binding `json:"inputs,omitempty"`
	// Overlap says what happens when a run is due while the previous one
	// still runs: skip (the default), buffer_one, buffer_all, cancel_other,
	// terminate_other or allow_all (see OverlapPolicies).
	Overlap string `json:"overlap,omitempty"`
	// CatchupWindow is how late a run missed while the server was down may
	// still start; zero leaves Temporal's default (a year).
	CatchupWindow Duration `json:"catchup_window,omitempty"`
	// Jitter delays each run by a random time up to this long, so that many
	// schedules due at the same minute do not call a partner all at once.
	Jitter Duration `json:"jitter,omitempty"`
	// PauseOnFailure pauses the schedule when a run fails, so that a broken
	// integration does not fail again every interval until someone looks.
	PauseOnFailure bool `json:"pause_on_failure,omitempty"`
}
