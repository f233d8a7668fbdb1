package flows

import (
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones of schedules are checked the same on every machine

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
)

// index holds the documents of a project by kind and name.
type index struct {
	flows       map[string]*document
	actions     map[string]*document
	connections map[string]*document
	profiles    map[string]*document
	tests       map[string]*document
	settings    *ProjectSettings
	docs        []*document // in file and line order
}

// reservedProfiles are the names of the built-in protocol profiles.
var reservedProfiles = []string{"http", "https"}

// checker runs the checks that span fields and documents.
type checker struct {
	l   *loader
	idx *index
	// calls records which actions each action calls, to find cycles.
	calls map[string][]actionCall
	// eachPage counts the each_page steps being checked: `page` is bound inside.
	eachPage int
}

type actionCall struct {
	to   string
	doc  *document
	path string
}

func (c *checker) errorf(doc *document, at pos, path, format string, args ...any) {
	c.l.problems = append(c.l.problems, Problem{File: doc.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(doc *document, at pos, path, format string, args ...any) {
	c.l.warnings = append(c.l.warnings, Problem{File: doc.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// check indexes the decoded documents and checks everything that spans
// fields: references, expressions, step scopes and cycles.
func (l *loader) check() *index {
	idx := &index{
		flows:       map[string]*document{},
		actions:     map[string]*document{},
		connections: map[string]*document{},
		profiles:    map[string]*document{},
		tests:       map[string]*document{},
	}
	sort.SliceStable(l.docs, func(i, j int) bool {
		a, b := l.docs[i], l.docs[j]
		if a.file != b.file {
			return a.file < b.file
		}
		return a.at.Line < b.at.Line
	})
	idx.docs = l.docs
	c := &checker{l: l, idx: idx, calls: map[string][]actionCall{}}
	var settingsDoc *document
	for _, doc := range l.docs {
		if doc.kind == KindProject {
			if base := doc.file; base != SettingsFile && base != "outflow.yml" {
				c.errorf(doc, doc.keyPos("kind"), "kind", "project settings belong in %s at the root of the project folder; move this document there", SettingsFile)
				continue
			}
			if settingsDoc != nil {
				c.errorf(doc, doc.keyPos("kind"), "kind", "project settings are already given at %s:%d; keep one kind: Project document", settingsDoc.file, settingsDoc.at.Line)
				continue
			}
			settingsDoc = doc
			idx.settings = doc.value.(*ProjectSettings)
			continue
		}
		if doc.name == "" {
			continue // reported as missing
		}
		var m map[string]*document
		switch doc.kind {
		case KindFlow, KindAction:
			// Flows and actions share one namespace: both run by name.
			other := idx.flows[doc.name]
			if other == nil {
				other = idx.actions[doc.name]
			}
			if other != nil {
				c.errorf(doc, doc.valPos("name"), "name", "duplicate name %q: %s %q is defined at %s:%d already; flows and actions share one namespace", doc.name, other.kind, doc.name, other.file, other.at.Line)
				continue
			}
			m = idx.flows
			if doc.kind == KindAction {
				m = idx.actions
			}
		case KindConnection:
			m = idx.connections
		case KindProtocolProfile:
			m = idx.profiles
		case KindTest:
			m = idx.tests
		}
		if other := m[doc.name]; other != nil {
			c.errorf(doc, doc.valPos("name"), "name", "duplicate %s %q: it is defined at %s:%d already", doc.kind, doc.name, other.file, other.at.Line)
			continue
		}
		m[doc.name] = doc
	}
	if settingsDoc != nil {
		c.checkSettings(settingsDoc, idx.settings)
	}
	for _, kind := range []string{KindProtocolProfile, KindConnection, KindAction, KindFlow, KindTest} {
		for _, doc := range l.docs {
			if doc.kind == kind && doc.name != "" {
				c.checkDocument(doc)
			}
		}
	}
	c.checkCycles()
	return idx
}

// checkDocument runs the checks of one named document.
func (c *checker) checkDocument(doc *document) {
	switch v := doc.value.(type) {
	case *ProtocolProfile:
		c.checkProfile(doc)
	case *Connection:
		c.checkConnection(doc)
	case *Action:
		c.checkRunnable(doc, "action", v.Inputs, nil, v.Steps, v.Outputs)
	case *Flow:
		b := c.checkRunnable(doc, "flow", v.Inputs, v.Vars, v.Steps, v.Outputs)
		for i, t := range v.Triggers {
			c.checkSchedule(b, indexPath("triggers", i)+".schedule", t.Schedule)
		}
	case *Test:
		c.checkTest(doc)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *checker) checkSettings(doc *document, s *ProjectSettings) {
	// Step results travel through Temporal, whose payloads are limited to
	// 2 MB by default; a body kept whole and parsed as JSON counts twice.
	if s.BodyLimit > 1<<20 {
		c.warnf(doc, doc.valPos("body_limit"), "body_limit", "a body limit above 1MiB can make step results exceed Temporal's payload limit (2 MB by default), which fails the step")
	}
	if s.RecordLimit > 1536<<10 {
		c.warnf(doc, doc.valPos("record_limit"), "record_limit", "a record limit above 1536KiB can make the record exceed Temporal's payload limit (2 MB by default), which fails queries and the flow's result")
	}
}

func (c *checker) checkProfile(doc *document) {
	p := doc.value.(*ProtocolProfile)
	if contains(reservedProfiles, p.Name) {
		c.errorf(doc, doc.valPos("name"), "name", "%q is the name of a built-in protocol profile; choose another name", p.Name)
	}
	if ks := p.Keystore; ks != nil && ks.Path != "" && (p.Store == "" || p.Store == "project") {
		c.checkProjectPath(doc, "keystore.path", ks.Path, "store: project reads the keystore from the project folder; give a relative path, or set store: agent for a file on the agent's machine")
	}
	if ts := p.Truststore; ts != nil {
		if len(ts.Paths) == 0 && !ts.SystemRoots {
			c.errorf(doc, doc.keyPos("truststore"), "truststore", "a truststore trusts nothing without paths or system_roots: true; give CA certificate files in paths")
		}
		for i, tp := range ts.Paths {
			if strings.TrimSpace(tp) == "" {
				p := indexPath("truststore.paths", i)
				c.errorf(doc, doc.valPos(p), p, "empty path; name a certificate file")
			}
		}
	}
	if p.InsecureSkipVerify {
		c.warnf(doc, doc.valPos("insecure_skip_verify"), "insecure_skip_verify", "server certificates are not verified: anyone on the network path can read and change this traffic; use it for testing only")
		if p.Truststore != nil {
			c.warnf(doc, doc.keyPos("truststore"), "truststore", "the truststore is not used while insecure_skip_verify is true")
		}
	}
	if p.ServerName != "" && !validHost(p.ServerName) {
		c.errorf(doc, doc.valPos("server_name"), "server_name", "invalid server name %q; give a host name such as api.partner.example", p.ServerName)
	}
}

// checkProjectPath checks a path that must name a file inside the project.
func (c *checker) checkProjectPath(doc *document, p, file, absHint string) {
	switch {
	case strings.TrimSpace(file) == "":
		c.errorf(doc, doc.valPos(p), p, "empty path; name a file relative to the project folder")
	case path.IsAbs(file) || (len(file) > 1 && file[1] == ':'):
		c.errorf(doc, doc.valPos(p), p, "absolute path %q: %s", file, absHint)
	case !fs.ValidPath(path.Clean(file)):
		c.errorf(doc, doc.valPos(p), p, "path %q leaves the project folder; keep project files inside it", file)
	}
}

func (c *checker) checkConnection(doc *document) {
	cn := doc.value.(*Connection)
	switch {
	case cn.URL != "" && cn.Host != "":
		c.errorf(doc, doc.keyPos("host"), "host", "give url or host, not both; url already names the host")
	case cn.URL != "":
		c.checkURL(doc, cn)
	case strings.Contains(cn.Host, "://"):
		c.errorf(doc, doc.valPos("host"), "host", "host %q holds a URL; give the name only (api.partner.example), or use url: instead of host:", cn.Host)
	case cn.Host != "" && !validHost(cn.Host):
		c.errorf(doc, doc.valPos("host"), "host", "invalid host %q; give a host name or IP address such as api.partner.example, without scheme, port or path", cn.Host)
	case cn.Host == "" && !doc.troubled["host"] && !doc.troubled["url"]:
		c.errorf(doc, doc.at, "", "missing host (or url); a connection needs to know where its requests go")
	}
	if cn.BasePath != "" && !strings.HasPrefix(cn.BasePath, "/") {
		c.errorf(doc, doc.valPos("base_path"), "base_path", "base_path must start with \"/\", such as \"/%s\"", cn.BasePath)
	}
	scheme := cn.Scheme
	if u, err := url.Parse(cn.URL); cn.URL != "" && err == nil {
		scheme = u.Scheme
	}
	var profile *ProtocolProfile
	if cn.ProtocolProfile != "" {
		if pd := c.idx.profiles[cn.ProtocolProfile]; pd != nil {
			profile = pd.value.(*ProtocolProfile)
		} else if !contains(reservedProfiles, cn.ProtocolProfile) {
			c.errorf(doc, doc.valPos("protocol_profile"), "protocol_profile", "unknown protocol profile %q %s", cn.ProtocolProfile, known(cn.ProtocolProfile, sortedKeys(c.idx.profiles), "protocol profiles"))
		}
	}
	if cn.MutualAuth {
		switch {
		case cn.ProtocolProfile == "":
			c.errorf(doc, doc.keyPos("mutual_auth"), "mutual_auth", "mutual authentication needs protocol_profile: the profile whose keystore holds the client certificate")
		case contains(reservedProfiles, cn.ProtocolProfile):
			c.errorf(doc, doc.keyPos("mutual_auth"), "mutual_auth", "the built-in profile %q has no client certificate; name a ProtocolProfile with a keystore", cn.ProtocolProfile)
		case profile != nil && profile.Keystore == nil && profile.Store != "agent":
			c.errorf(doc, doc.keyPos("mutual_auth"), "mutual_auth", "protocol profile %q has no keystore, so there is no client certificate to present; add keystore: to the profile", cn.ProtocolProfile)
		}
		if scheme == "http" {
			c.errorf(doc, doc.keyPos("mutual_auth"), "mutual_auth", "mutual_auth needs TLS, but the connection uses http; use https")
		}
	}
	if profile != nil {
		switch {
		case profile.Store == "agent" && cn.Agent == "":
			c.errorf(doc, doc.valPos("protocol_profile"), "protocol_profile", "protocol profile %q keeps its keystore on agents (store: agent), but this connection names no agent:; set agent: to the group whose machines hold it", cn.ProtocolProfile)
		case len(profile.AppliesTo) > 0 && cn.Agent == "":
			c.errorf(doc, doc.valPos("protocol_profile"), "protocol_profile", "protocol profile %q applies only to agents %s, but this connection names no agent:", cn.ProtocolProfile, strings.Join(profile.AppliesTo, ", "))
		case len(profile.AppliesTo) > 0 && !contains(profile.AppliesTo, cn.Agent):
			c.errorf(doc, doc.valPos("agent"), "agent", "protocol profile %q applies only to agents %s, not %q; add it to the profile's applies_to or use another agent", cn.ProtocolProfile, strings.Join(profile.AppliesTo, ", "), cn.Agent)
		}
	}
	c.checkCredential(doc, cn, scheme)
	c.checkHeaderNames(doc, "headers", cn.Headers)
	for _, k := range doc.order["headers"] {
		p := joinPath("headers", k)
		if s, ok := cn.Headers[k].(string); ok && engine.IsTemplate(s) {
			c.errorf(doc, doc.valPos(p), p, "connection headers are fixed values; expressions belong in the headers of a step")
		}
	}
	c.checkConnectionOpenAPI(doc, cn)
}

func (c *checker) checkURL(doc *document, cn *Connection) {
	at := doc.valPos("url")
	u, err := url.Parse(cn.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		c.errorf(doc, at, "url", "invalid url %q; give a base URL such as https://api.partner.example:8443/v2", cn.URL)
		return
	}
	if u.User != nil {
		c.errorf(doc, at, "url", "the url holds credentials; remove them and use credential: with a secret reference")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		c.errorf(doc, at, "url", "a base url has no query or fragment; give query parameters in the steps")
	}
	if !validHost(u.Hostname()) {
		c.errorf(doc, at, "url", "invalid host %q in url", u.Hostname())
	}
	if cn.Scheme != "" {
		c.errorf(doc, doc.keyPos("scheme"), "scheme", "url already gives the scheme; remove scheme:")
	}
	if cn.Port != 0 && u.Port() != "" {
		c.errorf(doc, doc.keyPos("port"), "port", "url already gives port %s; remove port:", u.Port())
	}
	if cn.BasePath != "" && strings.Trim(u.Path, "/") != "" {
		c.errorf(doc, doc.keyPos("base_path"), "base_path", "url already gives the path %q; remove base_path:", u.Path)
	}
}

func (c *checker) checkCredential(doc *document, cn *Connection, scheme string) {
	cr := cn.Credential
	if cr == nil || cr.Type == "" {
		return
	}
	fields := []string{"username", "password", "token", "in", "key", "value",
		"token_url", "client_id", "client_secret", "client_auth", "scopes", "audience", "resource", "params", "private_key", "key_id", "refresh_before"}
	need := map[string][]string{"basic": {"username", "password"}, "bearer": {"token"}, "api_key": {"value"},
		engine.OAuth2ClientCredentials: {"token_url", "client_id"}}
	given := map[string]bool{
		"username": cr.Username != "", "password": cr.Password != nil, "token": cr.Token != nil,
		"in": cr.In != "", "key": cr.Key != "", "value": cr.Value != nil,
		"token_url": cr.TokenURL != "", "client_id": cr.ClientID != "", "client_secret": cr.ClientSecret != nil,
		"client_auth": cr.ClientAuth != "", "scopes": cr.Scopes != nil, "audience": cr.Audience != "",
		"resource": cr.Resource != "", "params": cr.Params != nil, "private_key": cr.PrivateKey != nil,
		"key_id": cr.KeyID != "", "refresh_before": cr.RefreshBefore != 0,
	}
	allowed := map[string][]string{"basic": {"username", "password"}, "bearer": {"token"}, "api_key": {"in", "key", "value"},
		engine.OAuth2ClientCredentials: {"token_url", "client_id", "client_secret", "client_auth", "scopes", "audience", "resource", "params", "private_key", "key_id", "refresh_before"}}
	for _, f := range need[cr.Type] {
		if !given[f] && !doc.troubled["credential."+f] {
			c.errorf(doc, doc.keyPos("credential"), "credential", "credential type %s needs %s", cr.Type, f)
		}
	}
	for _, f := range fields {
		if given[f] && !contains(allowed[cr.Type], f) {
			p := "credential." + f
			c.errorf(doc, doc.keyPos(p), p, "%s does not belong to credential type %s, which takes %s", f, cr.Type, strings.Join(allowed[cr.Type], ", "))
		}
	}
	if cr.Type == "basic" && scheme == "http" {
		c.warnf(doc, doc.keyPos("credential"), "credential", "basic credentials over http travel in clear text; use https")
	}
	if cr.Type == engine.OAuth2ClientCredentials {
		c.checkOAuth2(doc, cn, scheme)
	}
}

// oauth2ReservedParams are the token request parameters Outflow sets itself.
var oauth2ReservedParams = []string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "audience", "resource"}

// checkOAuth2 checks an oauth2_client_credentials credential: the token
// endpoint, and that the client authentication method has what it needs.
func (c *checker) checkOAuth2(doc *document, cn *Connection, scheme string) {
	cr := cn.Credential
	if cr.TokenURL != "" {
		p := "credential.token_url"
		u, err := url.Parse(cr.TokenURL)
		switch {
		case err != nil:
			c.errorf(doc, doc.valPos(p), p, "invalid token_url %q; give an https URL such as https://auth.partner.example/oauth2/token, or a path such as /oauth2/token", cr.TokenURL)
		case u.IsAbs() && u.Scheme != "https" && !(u.Scheme == "http" && scheme == "http"):
			c.errorf(doc, doc.valPos(p), p, "token_url %q must use https: the client secret and the access token must not travel in clear text", cr.TokenURL)
		case u.IsAbs() && u.Host == "":
			c.errorf(doc, doc.valPos(p), p, "token_url %q names no host", cr.TokenURL)
		case u.User != nil:
			c.errorf(doc, doc.valPos(p), p, "the token_url holds credentials; remove them and use client_secret with a secret reference")
		case u.Fragment != "":
			c.errorf(doc, doc.valPos(p), p, "a token_url has no fragment (#%s)", u.Fragment)
		case !u.IsAbs() && u.Host != "":
			c.errorf(doc, doc.valPos(p), p, "token_url %q names a host without a scheme; write https://%s%s", cr.TokenURL, u.Host, u.Path)
		case !u.IsAbs() && cn.Host == "" && cn.URL == "":
			c.errorf(doc, doc.valPos(p), p, "token_url %q is relative, but the connection has no host to resolve it against; give an absolute https URL", cr.TokenURL)
		}
	}
	auth := cr.ClientAuth
	if auth == "" {
		auth = engine.DefaultOAuth2ClientAuth
	}
	authAt := doc.keyPos("credential.client_auth")
	if cr.ClientAuth == "" {
		authAt = doc.keyPos("credential")
	}
	switch auth {
	case engine.ClientSecretBasic, engine.ClientSecretPost:
		if cr.ClientSecret == nil && !doc.troubled["credential.client_secret"] {
			hint := ""
			if cr.ClientAuth == "" {
				hint = "; or set client_auth: tls_client_auth to authenticate by the connection's client certificate (RFC 8705)"
			}
			c.errorf(doc, authAt, "credential", "client_auth %s needs client_secret%s", auth, hint)
		}
		if scheme == "http" {
			c.warnf(doc, doc.keyPos("credential"), "credential", "the client secret and access token travel in clear text over http; use https")
		}
	case engine.TLSClientAuth, engine.SelfSignedTLSClientAuth:
		if cr.ClientSecret != nil {
			c.errorf(doc, doc.keyPos("credential.client_secret"), "credential.client_secret", "client_auth %s authenticates by the client certificate and sends no secret; remove client_secret", auth)
		}
		if !cn.MutualAuth {
			c.errorf(doc, authAt, "credential.client_auth", "client_auth %s authenticates by the client certificate: the connection needs mutual_auth: true and a protocol profile with a keystore", auth)
		}
	case engine.PrivateKeyJWT:
		if cr.ClientSecret != nil {
			c.errorf(doc, doc.keyPos("credential.client_secret"), "credential.client_secret", "client_auth private_key_jwt signs a client assertion and sends no secret; remove client_secret")
		}
		if cr.PrivateKey == nil && !cn.MutualAuth {
			c.errorf(doc, authAt, "credential.client_auth", "client_auth private_key_jwt needs a key to sign with: give private_key, or use mutual_auth: true with a protocol profile whose keystore holds the key")
		}
	}
	if cr.PrivateKey != nil && auth != engine.PrivateKeyJWT {
		c.errorf(doc, doc.keyPos("credential.private_key"), "credential.private_key", "private_key signs private_key_jwt client assertions; client_auth is %s", auth)
	}
	if cr.KeyID != "" && auth != engine.PrivateKeyJWT {
		c.errorf(doc, doc.keyPos("credential.key_id"), "credential.key_id", "key_id names the key of private_key_jwt client assertions; client_auth is %s", auth)
	}
	if ks := cr.PrivateKey; ks != nil {
		c.checkProjectPath(doc, "credential.private_key.path", ks.Path, "give a path relative to the project folder")
	}
	for i, sc := range cr.Scopes {
		p := indexPath("credential.scopes", i)
		if sc == "" || strings.ContainsAny(sc, " \t\"\\") {
			c.errorf(doc, doc.valPos(p), p, "invalid scope %q: a scope is one word without spaces or quotes; list each scope on its own", sc)
		}
	}
	for _, k := range doc.order["credential.params"] {
		p := joinPath("credential.params", k)
		if contains(oauth2ReservedParams, k) {
			c.errorf(doc, doc.keyPos(p), p, "the token request parameter %q is set by Outflow; use the credential's own field instead", k)
		}
		if s, ok := cr.Params[k].(string); ok && engine.IsTemplate(s) {
			c.errorf(doc, doc.valPos(p), p, "token request parameters are fixed values; expressions are not evaluated here")
		}
	}
	if cr.RefreshBefore < 0 {
		c.errorf(doc, doc.valPos("credential.refresh_before"), "credential.refresh_before", "refresh_before must not be negative")
	}
}

func (c *checker) checkHeaderNames(doc *document, p string, h Scalars) {
	for _, k := range doc.order[p] {
		kp := joinPath(p, k)
		if !validHeaderName(k) {
			c.errorf(doc, doc.keyPos(kp), kp, "invalid header name %q; use letters, digits and - (such as X-Client-Id)", k)
		}
	}
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// validHost accepts DNS names and IP addresses.
func validHost(h string) bool {
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// body is the context of the steps of one flow or action.
type body struct {
	doc    *document
	what   string // "flow" or "action"
	name   string
	inputs map[string]Input
	vars   map[string]bool // nil for actions, which have no vars
	decls  map[string][]decl
	scopes map[string]*scope // foreach step path → the scope of its steps
	top    *scope
}

func (b *body) owner() string { return fmt.Sprintf("%s %q", b.what, b.name) }

// scope is a sequence of steps whose ids are visible to each other: the
// steps of a flow or action, or of a foreach. The steps of parallel branches
// belong to the scope around the parallel step.
type scope struct {
	parent    *scope
	foreach   string // path of the foreach step that opens it; "" for the top
	foreachID string
	pages     bool              // the foreach is a paginated step's each_page
	ids       map[string]string // id → step path
}

type decl struct {
	path   string
	scope  *scope
	branch string // path of the innermost parallel branch it is in, within its scope
}

func (c *checker) checkRunnable(doc *document, what string, inputs map[string]Input, vars map[string]any, steps []Step, outputs map[string]any) *body {
	b := &body{
		doc: doc, what: what, name: doc.name, inputs: inputs,
		decls: map[string][]decl{}, scopes: map[string]*scope{},
	}
	if what == "flow" {
		b.vars = map[string]bool{}
		for k := range vars {
			b.vars[k] = true
		}
	}
	c.checkInputs(b, inputs)

	upTo := map[string]bool{}
	for _, k := range doc.order["vars"] {
		p := joinPath("vars", k)
		c.checkName(doc, p, "var", k)
		env := &exprEnv{b: b, noSteps: "vars are computed before the first step", varsUpTo: copySet(upTo)}
		c.checkValue(doc, p, vars[k], env)
		upTo[k] = true
	}

	b.top = &scope{ids: map[string]string{}}
	c.declare(b, b.top, "steps", steps, "")
	c.checkShadowing(b)
	visible := map[string]string{}
	c.checkSteps(b, b.top, "steps", steps, visible, false)

	for _, k := range doc.order["outputs"] {
		p := joinPath("outputs", k)
		c.checkName(doc, p, "output", k)
		c.checkValue(doc, p, outputs[k], &exprEnv{b: b, visible: visible})
	}
	return b
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkName checks a name that expressions refer to (inputs.NAME).
func (c *checker) checkName(doc *document, p, what, name string) {
	if !identPattern.MatchString(name) {
		help := patternHelp[identPattern.String()]
		if sug := identifierLike(name, identPattern); sug != "" {
			help += fmt.Sprintf(", such as %q", sug)
		}
		c.errorf(doc, doc.keyPos(p), p, "invalid %s name %q: %s", what, name, help)
	}
}

func (c *checker) checkInputs(b *body, inputs map[string]Input) {
	doc := b.doc
	for _, k := range doc.order["inputs"] {
		p := joinPath("inputs", k)
		c.checkName(doc, p, "input", k)
		in := inputs[k]
		if in.Default != nil && !typeOK(in.Default, in.Type) {
			c.errorf(doc, doc.valPos(p+".default"), p+".default", "default %s is not of type %s", literal(in.Default), in.Type)
		}
		if in.Required && in.Default != nil {
			c.warnf(doc, doc.keyPos(p+".required"), p+".required", "an input with a default is never missing, so required has no effect")
		}
	}
}

// literal renders a YAML value for a message: strings quoted, the rest as
// JSON, long values cut short.
func literal(v any) string {
	s := engine.Stringify(v)
	if _, ok := v.(string); ok {
		s = strconv.Quote(s)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// typeOK reports whether a literal value has an input type.
func typeOK(v any, t string) bool {
	if s, ok := v.(string); ok && engine.IsTemplate(s) {
		return true // known only at run time
	}
	switch t {
	case "", "any":
		return true
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		switch v.(type) {
		case int64, float64:
			return true
		}
	case "integer":
		switch x := v.(type) {
		case int64:
			return true
		case float64:
			return x == float64(int64(x))
		}
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// declare records the step ids of a sequence and the scopes of its
// foreach steps, reporting ids used twice in one scope.
func (c *checker) declare(b *body, sc *scope, p string, steps []Step, branch string) {
	for i := range steps {
		st := &steps[i]
		sp := indexPath(p, i)
		if st.ID != "" {
			if prev, dup := sc.ids[st.ID]; dup {
				c.errorf(b.doc, b.doc.valPos(sp+".id"), sp+".id", "duplicate step id %q: %s (line %d) has it already", st.ID, prev, b.doc.valPos(prev).Line)
			} else {
				sc.ids[st.ID] = sp
				b.decls[st.ID] = append(b.decls[st.ID], decl{path: sp, scope: sc, branch: branch})
			}
		}
		if st.Foreach != "" || len(st.Steps) > 0 {
			inner := &scope{parent: sc, foreach: sp, foreachID: st.ID, ids: map[string]string{}}
			b.scopes[sp] = inner
			c.declare(b, inner, sp+".steps", st.Steps, "")
		}
		if st.Rest != nil && st.Rest.Paginate != nil && len(st.Rest.Paginate.EachPage) > 0 {
			ep := sp + ".rest.paginate.each_page"
			inner := &scope{parent: sc, foreach: sp, foreachID: st.ID, pages: true, ids: map[string]string{}}
			b.scopes[ep] = inner
			c.declare(b, inner, ep, st.Rest.Paginate.EachPage, "")
		}
		for j := range st.Parallel {
			bp := indexPath(sp+".parallel", j)
			c.declare(b, sc, bp+".steps", st.Parallel[j].Steps, bp)
		}
	}
}

// checkShadowing refuses an id inside a foreach that a step around the
// foreach uses too, so that steps.ID means one step wherever it is read.
func (c *checker) checkShadowing(b *body) {
	for _, id := range sortedKeys(b.decls) {
		for _, d := range b.decls[id] {
			for s := d.scope.parent; s != nil; s = s.parent {
				if other, ok := s.ids[id]; ok {
					around := "this foreach"
					if d.scope.pages {
						around = "these each_page steps"
					}
					c.errorf(b.doc, b.doc.valPos(d.path+".id"), d.path+".id", "step id %q is used by %s (line %d) around %s already; choose another id so that steps.%s means one step", id, other, b.doc.valPos(other).Line, around, id)
					break
				}
			}
		}
	}
}

// checkSteps checks a sequence of steps in order; visible holds the steps
// that have ended when each is evaluated, and grows as it goes.
func (c *checker) checkSteps(b *body, sc *scope, p string, steps []Step, visible map[string]string, inForeach bool) {
	for i := range steps {
		sp := indexPath(p, i)
		st := &steps[i]
		c.checkStep(b, sc, sp, st, visible, inForeach)
		if st.ID != "" {
			visible[st.ID] = sp
		}
		for j := range st.Parallel {
			for id, dp := range branchIDs(st.Parallel[j].Steps, indexPath(sp+".parallel", j)+".steps") {
				visible[id] = dp
			}
		}
	}
}

// branchIDs lists the ids a branch adds to the scope around its parallel step.
func branchIDs(steps []Step, p string) map[string]string {
	out := map[string]string{}
	for i := range steps {
		sp := indexPath(p, i)
		if steps[i].ID != "" {
			out[steps[i].ID] = sp
		}
		for j := range steps[i].Parallel {
			for id, dp := range branchIDs(steps[i].Parallel[j].Steps, indexPath(sp+".parallel", j)+".steps") {
				out[id] = dp
			}
		}
	}
	return out
}

func (c *checker) checkStep(b *body, sc *scope, sp string, st *Step, visible map[string]string, inForeach bool) {
	doc := b.doc
	env := &exprEnv{b: b, stepPath: sp, visible: visible, inForeach: inForeach, inPaginate: c.eachPage > 0}
	var kinds []string
	if st.Rest != nil {
		kinds = append(kinds, "rest")
	}
	if st.Soap != nil {
		kinds = append(kinds, "soap")
	}
	if st.Action != "" {
		kinds = append(kinds, "action")
	}
	if st.Foreach != "" {
		kinds = append(kinds, "foreach")
	}
	if st.Parallel != nil {
		kinds = append(kinds, "parallel")
	}
	if st.Wait != nil {
		kinds = append(kinds, "wait")
	}
	label := fmt.Sprintf("step %q", st.ID)
	if st.ID == "" {
		label = "this step"
	}
	switch {
	case len(kinds) == 0 && len(st.Steps) > 0:
		c.errorf(doc, doc.keyPos(sp+".steps"), sp+".steps", "steps: inside a step belongs to a foreach; add foreach: to run them for each item, or use parallel: to run branches at the same time")
	case len(kinds) == 0 && !doc.troubled[sp]:
		c.errorf(doc, doc.keyPos(sp), sp, "%s does nothing; give it one of rest, soap, action, foreach, parallel or wait", label)
	case len(kinds) > 1:
		c.errorf(doc, doc.keyPos(sp+"."+kinds[1]), sp, "%s has both %s and %s; a step does one thing, so split it into two steps", label, kinds[0], kinds[1])
	}
	if st.If != "" {
		c.checkString(doc, sp+".if", string(st.If), env)
	}
	if r := st.Retry; r != nil && r.InitialInterval > 0 && r.MaxInterval > 0 && r.MaxInterval < r.InitialInterval {
		c.errorf(doc, doc.valPos(sp+".retry.max_interval"), sp+".retry.max_interval", "max_interval %s is shorter than initial_interval %s", time.Duration(r.MaxInterval), time.Duration(r.InitialInterval))
	}
	callsActivity := st.Rest != nil || st.Soap != nil
	if !callsActivity && len(kinds) == 1 {
		for _, f := range []string{"timeout", "retry"} {
			if _, set := doc.vals[sp+"."+f]; set {
				c.warnf(doc, doc.keyPos(sp+"."+f), sp+"."+f, "%s applies to rest and soap steps only; set it on the steps that %s runs", f, kinds[0])
			}
		}
	}
	if st.Local {
		connName := ""
		switch {
		case st.Rest != nil:
			connName = st.Rest.Connection
		case st.Soap != nil:
			connName = st.Soap.Connection
		default:
			c.errorf(doc, doc.keyPos(sp+".local"), sp+".local", "local runs rest and soap calls only; remove it from this step")
		}
		if cd := c.idx.connections[connName]; cd != nil {
			if cn, ok := cd.value.(*Connection); ok && cn.Agent != "" {
				c.errorf(doc, doc.keyPos(sp+".local"), sp+".local", "connection %q runs its steps on agent %q, and a local step runs on the flow's worker; remove local: or use a connection without an agent", connName, cn.Agent)
			}
		}
	}
	if st.With != nil && st.Action == "" {
		c.errorf(doc, doc.keyPos(sp+".with"), sp+".with", "with: gives the inputs of an action; add action: NAME or remove with:")
	}
	if st.Concurrency != 0 && st.Foreach == "" {
		c.errorf(doc, doc.keyPos(sp+".concurrency"), sp+".concurrency", "concurrency belongs to a foreach; add foreach: or remove concurrency:")
	}
	if st.Wait != nil {
		c.checkWait(b, sp+".wait", st.Wait, env)
	}
	if st.Poll != nil {
		if !callsActivity && len(kinds) == 1 {
			c.errorf(doc, doc.keyPos(sp+".poll"), sp+".poll", "poll repeats rest and soap calls only; remove it from this %s step", kinds[0])
		}
		if st.Poll.Until != "" {
			// The condition reads the step's own latest result.
			self := copyMap(visible)
			if st.ID != "" {
				self[st.ID] = sp
			}
			c.checkString(doc, sp+".poll.until", string(st.Poll.Until), &exprEnv{b: b, stepPath: sp + ".poll", visible: self, inForeach: inForeach})
		}
		if pl := st.Poll; pl.Interval > 0 && pl.Deadline > 0 && pl.Deadline < pl.Interval {
			c.errorf(doc, doc.valPos(sp+".poll.deadline"), sp+".poll.deadline", "deadline %s is shorter than interval %s, so the step could call only once", time.Duration(pl.Deadline), time.Duration(pl.Interval))
		}
	}
	if st.Rest != nil {
		c.checkRest(b, sp+".rest", st.Rest, env)
		if st.Rest.Paginate != nil {
			if st.Poll != nil {
				c.errorf(doc, doc.keyPos(sp+".poll"), sp+".poll", "poll and rest.paginate do not go together: a step either repeats one call or walks pages; split it into two steps")
			}
			self := copyMap(visible)
			if st.ID != "" {
				self[st.ID] = sp
			}
			c.checkPaginate(b, sp+".rest.paginate", st.Rest.Paginate, &exprEnv{b: b, stepPath: sp + ".rest.paginate", visible: self, inForeach: inForeach, inPaginate: true})
			if each := st.Rest.Paginate.EachPage; len(each) > 0 {
				ep := sp + ".rest.paginate.each_page"
				inner := b.scopes[ep]
				if inner == nil {
					inner = &scope{parent: sc, foreach: sp, pages: true, ids: map[string]string{}}
				}
				// The steps of a page see `page`, and the steps before this one.
				c.eachPage++
				c.checkSteps(b, inner, ep, each, self, inForeach)
				c.eachPage--
			}
		}
	}
	if st.Soap != nil {
		c.checkSoap(b, sp+".soap", st.Soap, env)
	}
	if st.Action != "" {
		c.checkActionCall(b, sp, st, env)
	}
	if st.Foreach != "" {
		if !engine.IsTemplate(st.Foreach) {
			c.errorf(doc, doc.valPos(sp+".foreach"), sp+".foreach", "foreach takes a list expression such as \"${{ steps.list.json.items }}\", got plain text")
		} else {
			c.checkString(doc, sp+".foreach", st.Foreach, env)
		}
		if len(st.Steps) == 0 {
			c.errorf(doc, doc.keyPos(sp+".foreach"), sp, "foreach needs steps: the steps to run for each item")
		}
		inner := b.scopes[sp]
		if inner == nil {
			inner = &scope{parent: sc, foreach: sp, ids: map[string]string{}}
		}
		c.checkSteps(b, inner, sp+".steps", st.Steps, copyMap(visible), true)
	}
	if st.Parallel != nil {
		if len(st.Parallel) == 0 {
			c.errorf(doc, doc.valPos(sp+".parallel"), sp+".parallel", "parallel needs at least one branch: {id: NAME, steps: [...]}")
		}
		branchAt := map[string]string{}
		for j := range st.Parallel {
			bp := indexPath(sp+".parallel", j)
			br := &st.Parallel[j]
			if prev, dup := branchAt[br.ID]; dup && br.ID != "" {
				c.errorf(doc, doc.valPos(bp+".id"), bp+".id", "duplicate branch id %q: %s has it already", br.ID, prev)
			}
			branchAt[br.ID] = bp
			c.checkSteps(b, sc, bp+".steps", br.Steps, copyMap(visible), inForeach)
		}
	}
}

func (c *checker) checkWait(b *body, p string, w *Wait, env *exprEnv) {
	doc := b.doc
	switch {
	case w.Duration == 0 && w.Until == "" && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "wait needs duration (such as 10m) or until (a time such as 2026-01-02T06:00:00Z)")
	case w.Duration != 0 && w.Until != "":
		c.errorf(doc, doc.keyPos(p+".until"), p+".until", "give duration or until, not both")
	case w.Until != "" && engine.IsTemplate(w.Until):
		c.checkString(doc, p+".until", w.Until, env)
	case w.Until != "":
		if _, err := time.Parse(time.RFC3339, w.Until); err != nil {
			c.errorf(doc, doc.valPos(p+".until"), p+".until", "invalid time %q; write an RFC 3339 time such as 2026-01-02T06:00:00Z, or an expression", w.Until)
		}
	}
}

func (c *checker) checkRest(b *body, p string, r *RestStep, env *exprEnv) {
	doc := b.doc
	c.checkConnectionRef(doc, p+".connection", r.Connection)
	if r.Path != "" {
		switch {
		case strings.Contains(r.Path, "://"):
			c.errorf(doc, doc.valPos(p+".path"), p+".path", "path %q is a URL; a step's path is joined to its connection's base URL and never leaves its host, so define a Connection for that host", r.Path)
		case !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "${{"):
			c.errorf(doc, doc.valPos(p+".path"), p+".path", "path must start with \"/\", such as \"/%s\"", r.Path)
		default:
			c.checkString(doc, p+".path", r.Path, env)
		}
	}
	c.checkScalars(b, p+".query", r.Query, env)
	c.checkHeaderNames(doc, p+".headers", r.Headers)
	c.checkScalars(b, p+".headers", r.Headers, env)
	c.checkValue(doc, p+".body", r.Body, env)
	if r.BodyType == "form" && r.Body != nil {
		switch v := r.Body.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				switch v[k].(type) {
				case map[string]any, []any:
					fp := joinPath(p+".body", k)
					c.errorf(doc, doc.valPos(fp), fp, "a form field is a string, number or boolean; send nested values with body_type: json")
				}
			}
		case string:
			if !engine.IsTemplate(v) {
				c.errorf(doc, doc.valPos(p+".body"), p+".body", "body_type form sends a mapping of fields; give body as a mapping")
			}
		default:
			c.errorf(doc, doc.valPos(p+".body"), p+".body", "body_type form sends a mapping of fields; give body as a mapping")
		}
	}
	for i, code := range r.Expect {
		if code < 100 || code > 599 {
			ep := indexPath(p+".expect", i)
			c.errorf(doc, doc.valPos(ep), ep, "%d is not an HTTP status code; use 100 to 599", code)
		}
	}
	c.checkValue(doc, p+".params", r.Params, env)
	c.checkRestOpenAPI(b, p, r)
}

// checkPaginate checks a rest step's paginate: one way to the next page,
// JSON paths where paths belong, and pairs given together.
func (c *checker) checkPaginate(b *body, p string, pg *Paginate, env *exprEnv) {
	doc := b.doc
	var styles []string
	for _, k := range []string{"next_link", "cursor", "page", "offset"} {
		if _, set := doc.keys[p+"."+k]; set {
			styles = append(styles, k)
		}
	}
	switch {
	case len(styles) == 0 && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "paginate needs one way to reach the next page: next_link (header or a JSON path), cursor, page or offset")
	case len(styles) > 1:
		c.errorf(doc, doc.keyPos(p+"."+styles[1]), p+"."+styles[1], "paginate has both %s and %s; give one way to reach the next page", styles[0], styles[1])
	}
	c.checkJSONPath(doc, p+".items", pg.Items)
	switch nl := pg.NextLink; {
	case nl == "header" || nl == "":
	case strings.Contains(nl, "://") || strings.HasPrefix(nl, "/"):
		c.errorf(doc, doc.valPos(p+".next_link"), p+".next_link", "next_link says where the partner gives the next link: header (the Link header) or a JSON path such as $.links.next, not a URL")
	case strings.EqualFold(nl, "link") || strings.EqualFold(nl, "headers"):
		c.errorf(doc, doc.valPos(p+".next_link"), p+".next_link", "next_link %q: write header for the Link header, or a JSON path such as $.links.next", nl)
	default:
		c.checkJSONPath(doc, p+".next_link", nl)
	}
	if cu := pg.Cursor; cu != nil {
		c.checkJSONPath(doc, p+".cursor.from", cu.From)
	}
	if pn := pg.Page; pn != nil && pn.SizeParam != "" && pn.Size == 0 {
		c.errorf(doc, doc.keyPos(p+".page.size_param"), p+".page.size_param", "size_param %q is sent with size; add size: (items per page)", pn.SizeParam)
	}
	if po := pg.Offset; po != nil && po.LimitParam != "" && po.Limit == 0 {
		c.errorf(doc, doc.keyPos(p+".offset.limit_param"), p+".offset.limit_param", "limit_param %q is sent with limit; add limit: (items per page)", po.LimitParam)
	}
	if pg.StopWhen != "" {
		c.checkString(doc, p+".stop_when", string(pg.StopWhen), env)
	}
}

// checkJSONPath checks a path into a JSON body: a path, not an expression.
func (c *checker) checkJSONPath(doc *document, p, v string) {
	switch {
	case v == "":
	case engine.IsTemplate(v):
		c.errorf(doc, doc.valPos(p), p, "%s is a JSON path into the page such as $.data, not an expression", lastKey(p))
	case strings.ContainsAny(v, " \t\n"):
		c.errorf(doc, doc.valPos(p), p, "%s %q is not a JSON path; write one such as $.data or $.meta.next_cursor", lastKey(p), v)
	}
}

func lastKey(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (c *checker) checkSoap(b *body, p string, s *SoapStep, env *exprEnv) {
	doc := b.doc
	c.checkConnectionRef(doc, p+".connection", s.Connection)
	for _, k := range doc.order[p+".soap_headers"] {
		c.checkValue(doc, joinPath(p+".soap_headers", k), s.SOAPHeaders[k], env)
	}
	c.checkHeaderNames(doc, p+".headers", s.Headers)
	c.checkScalars(b, p+".headers", s.Headers, env)
	c.checkValue(doc, p+".body", s.Body, env)
	if s.WSDL == "" {
		return
	}
	wp := p + ".wsdl"
	var defs *wsdl.Definitions
	switch {
	case wsdl.IsURL(s.WSDL):
		cd := c.idx.connections[s.Connection]
		if cd == nil {
			return // reported by checkConnectionRef
		}
		conn := (&Project{idx: c.idx}).compileConnection(cd)
		if err := wsdl.CheckFetchURL(s.WSDL, conn.Name, conn.Host, conn.Scheme); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "%v", err)
			return
		}
		var profile *engine.ProtocolProfile
		if pd := c.idx.profiles[conn.ProtocolProfile]; pd != nil && conn.ProtocolProfile != "" {
			profile = compileProfile(pd)
		}
		var err error
		if defs, err = c.l.remoteWSDL(s.WSDL, conn, profile); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "reading the WSDL: %v", err)
			return
		}
	case strings.Contains(s.WSDL, "://"):
		c.errorf(doc, doc.valPos(wp), wp, "wsdl must be a file in the project or an http(s) URL fetched through the connection")
		return
	default:
		before := len(c.l.problems)
		c.checkProjectPath(doc, wp, s.WSDL, "give a path relative to the project folder, or an https URL")
		if len(c.l.problems) != before {
			return
		}
		if _, err := fs.Stat(c.l.fsys, path.Clean(s.WSDL)); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "wsdl file %q is not in the project folder", s.WSDL)
			return
		}
		var err error
		if defs, err = c.l.wsdl(s.WSDL); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "reading the WSDL: %v", err)
			return
		}
	}
	if s.Operation == "" {
		return // reported as missing
	}
	if _, _, _, err := defs.Lookup(s.Service, s.Port, s.Operation); err != nil {
		at, msg := p+".operation", err.Error()
		switch {
		case strings.Contains(msg, "no service"):
			at = p + ".service"
		case strings.Contains(msg, "no SOAP port"):
			at = p + ".port"
		case !strings.Contains(msg, "did you mean"):
			var ops []string
			for _, op := range wsdl.Operations(defs) {
				ops = append(ops, op.Operation)
			}
			if c, ok := closest(s.Operation, ops); ok {
				msg += fmt.Sprintf("; did you mean %q?", c)
			}
		}
		c.errorf(doc, doc.valPos(at), at, "%s", msg)
		return
	}
	var headers []wsdl.Header
	for _, k := range doc.order[p+".soap_headers"] {
		headers = append(headers, wsdl.Header{Name: k, Value: placeholders(s.SOAPHeaders[k])})
	}
	err := wsdl.ValidateBody(defs, s.Service, s.Port, s.Operation, placeholders(s.Body), headers)
	// An expression stands in as a string; where the schema wants fields, it
	// may yield them at run time, so that is not a mistake yet.
	if err != nil && !strings.Contains(err.Error(), "expects fields") {
		at := p + ".body"
		if strings.HasPrefix(err.Error(), "header") {
			at = p + ".soap_headers"
		}
		c.errorf(doc, doc.keyPos(at), at, "the request does not fit operation %s: %v", s.Operation, err)
	}
}

// placeholders copies a value with every string that is one whole
// expression replaced by a string, since its value is known only at run time.
func placeholders(v any) any {
	switch x := v.(type) {
	case string:
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "${{") && strings.HasSuffix(t, "}}") && strings.Count(t, "${{") == 1 {
			return "value"
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = placeholders(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = placeholders(e)
		}
		return out
	}
	return v
}

func (c *checker) checkConnectionRef(doc *document, p, name string) {
	if name == "" {
		return // reported as missing
	}
	if c.idx.connections[name] == nil {
		c.errorf(doc, doc.valPos(p), p, "unknown connection %q %s", name, known(name, sortedKeys(c.idx.connections), "connections"))
	}
}

func (c *checker) checkScalars(b *body, p string, m Scalars, env *exprEnv) {
	for _, k := range b.doc.order[p] {
		kp := joinPath(p, k)
		if strings.EqualFold(k, "Authorization") {
			if s, ok := m[k].(string); ok && !engine.IsTemplate(s) {
				c.errorf(b.doc, b.doc.valPos(kp), kp, "a literal Authorization header writes a credential into the project; use credential: on the connection")
				continue
			}
		}
		c.checkValue(b.doc, kp, m[k], env)
	}
}

func (c *checker) checkActionCall(b *body, sp string, st *Step, env *exprEnv) {
	doc := b.doc
	ap := sp + ".action"
	target := c.idx.actions[st.Action]
	if target == nil {
		if c.idx.flows[st.Action] != nil {
			c.errorf(doc, doc.valPos(ap), ap, "%q is a flow; action: calls actions only %s", st.Action, known(st.Action, sortedKeys(c.idx.actions), "actions"))
		} else {
			c.errorf(doc, doc.valPos(ap), ap, "unknown action %q %s", st.Action, known(st.Action, sortedKeys(c.idx.actions), "actions"))
		}
		for _, k := range doc.order[sp+".with"] {
			c.checkValue(doc, joinPath(sp+".with", k), st.With[k], env)
		}
		return
	}
	if b.what == "action" {
		c.calls[b.name] = append(c.calls[b.name], actionCall{to: st.Action, doc: doc, path: ap})
	}
	a := target.value.(*Action)
	c.checkWith(doc, sp+".with", st.With, a.Inputs, fmt.Sprintf("action %q", a.Name), doc.keyPos(ap), env)
}

// checkWith checks the inputs given to an action or a scheduled flow
// against the inputs it declares, and their expressions in env unless env
// is nil.
func (c *checker) checkWith(doc *document, p string, given map[string]any, inputs map[string]Input, owner string, missingAt pos, env *exprEnv) {
	under := "with:"
	if p == "inputs" || strings.HasSuffix(p, ".inputs") {
		under = "inputs:"
	}
	for _, k := range doc.order[p] {
		kp := joinPath(p, k)
		in, ok := inputs[k]
		if !ok {
			c.errorf(doc, doc.keyPos(kp), kp, "unknown input %q of %s %s", k, owner, known(k, sortedKeys(inputs), "inputs"))
			continue
		}
		if !typeOK(given[k], in.Type) && given[k] != nil {
			c.errorf(doc, doc.valPos(kp), kp, "input %q of %s is of type %s, got %s", k, owner, in.Type, literal(given[k]))
		}
		if env != nil {
			c.checkValue(doc, kp, given[k], env)
		}
	}
	var missing []string
	for _, k := range sortedKeys(inputs) {
		in := inputs[k]
		if _, ok := given[k]; !ok && in.Required && in.Default == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		at, mp := missingAt, p
		if given != nil {
			at = doc.keyPos(p)
		} else {
			mp = parentPath(p)
		}
		noun := "input"
		if len(missing) > 1 {
			noun = "inputs"
		}
		c.errorf(doc, at, mp, "missing required %s %s of %s; add it under %s", noun, quoteList(missing), owner, under)
	}
}

func (c *checker) checkSchedule(b *body, p string, s *Schedule) {
	if s == nil {
		return
	}
	doc := b.doc
	switch {
	case s.Cron == "" && s.Every == 0 && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "a schedule needs cron (a calendar such as \"0 2 * * *\") or every (an interval such as 1h)")
	case s.Cron != "" && s.Every != 0:
		c.errorf(doc, doc.keyPos(p+".every"), p+".every", "give cron or every, not both")
	case s.Cron != "":
		if err := checkCron(s.Cron); err != nil {
			c.errorf(doc, doc.valPos(p+".cron"), p+".cron", "invalid cron %q: %v", s.Cron, err)
		}
	}
	if s.Timezone != "" {
		if s.Timezone == "Local" {
			c.errorf(doc, doc.valPos(p+".timezone"), p+".timezone", "time zone Local differs from machine to machine; name the zone, such as Europe/Berlin")
		} else if _, err := time.LoadLocation(s.Timezone); err != nil {
			c.errorf(doc, doc.valPos(p+".timezone"), p+".timezone", "unknown time zone %q; use an IANA name such as Europe/Berlin or UTC", s.Timezone)
		}
	}
	if w := time.Duration(s.CatchupWindow); w != 0 && w < engine.MinCatchupWindow {
		c.errorf(doc, doc.valPos(p+".catchup_window"), p+".catchup_window", "catchup_window %s is shorter than Temporal's minimum of %s; give at least 10s", w, engine.MinCatchupWindow)
	}
	ip := p + ".inputs"
	for _, k := range doc.order[ip] {
		kp := joinPath(ip, k)
		walkStrings(s.Inputs[k], kp, func(sp, str string) {
			if engine.IsTemplate(str) {
				c.errorf(doc, doc.valPos(sp), sp, "schedule inputs are fixed values; expressions are not evaluated here")
			}
		})
	}
	// Expressions were refused above; nil skips checking them again.
	c.checkWith(doc, ip, s.Inputs, b.inputs, b.owner(), doc.keyPos(p), nil)
}

// walkStrings calls fn for every string in a YAML-shaped value, with its path.
func walkStrings(v any, p string, fn func(p, s string)) {
	switch x := v.(type) {
	case string:
		fn(p, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], joinPath(p, k), fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, indexPath(p, i), fn)
		}
	}
}

// exprEnv says what an expression at one place may read.
type exprEnv struct {
	b         *body
	stepPath  string            // the step the expression belongs to, if any
	visible   map[string]string // steps that have ended when it is evaluated
	inForeach bool
	// inPaginate says `page` is bound: in a paginated step's stop_when.
	inPaginate bool
	noSteps    string          // why no step is available here, if none is
	varsUpTo   map[string]bool // in vars: the vars above; nil elsewhere
}

// checkValue checks every expression in a YAML-shaped value.
func (c *checker) checkValue(doc *document, p string, v any, env *exprEnv) {
	walkStrings(v, p, func(sp, s string) { c.checkString(doc, sp, s, env) })
}

// checkString compiles the expressions of a template and checks the names
// they read.
func (c *checker) checkString(doc *document, p, s string, env *exprEnv) {
	if !engine.IsTemplate(s) {
		return
	}
	if _, err := engine.CompileTemplate(s); err != nil {
		msg, off := compileError(err)
		c.errorf(doc, exprPos(doc, p, s, off), p, "%s", msg)
		return
	}
	for _, span := range exprSpans(s) {
		for _, r := range exprRefs(span.code) {
			at := exprPos(doc, p, s, span.codeFrom+r.at)
			if msg, warn := c.checkRef(env, r); msg != "" {
				if warn {
					c.warnf(doc, at, p, "%s", msg)
				} else {
					c.errorf(doc, at, p, "%s", msg)
				}
			}
		}
	}
	c.checkResponseReads(doc, p, s, env)
}

// checkRef returns what is wrong with a name an expression reads, and
// whether it is only a warning.
func (c *checker) checkRef(env *exprEnv, r exprRef) (string, bool) {
	b := env.b
	switch r.root {
	case "inputs":
		if _, ok := b.inputs[r.name]; ok {
			return "", false
		}
		if len(b.inputs) == 0 {
			if b.what == "flow" {
				return fmt.Sprintf("inputs.%s is not declared; declare it under inputs: so that runs are checked", r.name), true
			}
			return fmt.Sprintf("unknown input %q: %s declares no inputs; declare it under inputs:", r.name, b.owner()), false
		}
		return fmt.Sprintf("unknown input %q %s", r.name, known(r.name, sortedKeys(b.inputs), "inputs")), false
	case "vars":
		if b.vars == nil {
			return fmt.Sprintf("vars.%s: actions have no vars; pass the value as an input", r.name), false
		}
		if env.varsUpTo != nil && b.vars[r.name] && !env.varsUpTo[r.name] {
			return fmt.Sprintf("vars.%s is defined at or below this var; a var can use only the vars above it", r.name), false
		}
		if !b.vars[r.name] {
			return fmt.Sprintf("unknown var %q %s", r.name, known(r.name, sortedKeys(b.vars), "vars")), false
		}
	case "steps":
		if env.noSteps != "" {
			return fmt.Sprintf("steps.%s cannot be read here: %s", r.name, env.noSteps), false
		}
		if _, ok := env.visible[r.name]; ok {
			return "", false
		}
		return c.explainStep(env, r.name), false
	case "item", "index":
		if !env.inForeach {
			return fmt.Sprintf("%s is defined only inside the steps of a foreach", r.root), false
		}
	case "page":
		if !env.inPaginate {
			return "page is defined only in paginate.stop_when and paginate.each_page; after the step, read steps.ID.items and steps.ID.pages", false
		}
	}
	return "", false
}

// explainStep says why steps.ID is not readable where an expression is.
func (c *checker) explainStep(env *exprEnv, id string) string {
	b := env.b
	decls := b.decls[id]
	if len(decls) == 0 {
		var ids []string
		for k := range env.visible {
			ids = append(ids, k)
		}
		if len(ids) == 0 {
			return fmt.Sprintf("unknown step %q; no step has run before this point", id)
		}
		return fmt.Sprintf("unknown step %q %s", id, known(id, ids, "steps"))
	}
	d := decls[0]
	line := b.doc.valPos(d.path).Line
	switch {
	case env.stepPath != "" && d.path == env.stepPath:
		return fmt.Sprintf("step %q refers to itself; its results exist only after it ends", id)
	case env.stepPath != "" && strings.HasPrefix(env.stepPath, d.path+"."):
		return fmt.Sprintf("step %q is the step this expression is part of; its results exist only after it ends", id)
	case d.scope.pages && !strings.HasPrefix(env.stepPath, d.scope.foreach+"."):
		return fmt.Sprintf("step %q runs once per page of the paginated step %s (line %d); its results are in the execution record, not in steps", id, d.scope.foreach, b.doc.valPos(d.scope.foreach).Line)
	case d.scope.foreach != "" && !strings.HasPrefix(env.stepPath, d.scope.foreach+"."):
		return fmt.Sprintf("step %q runs inside the foreach %s (line %d), once per item; read its results as steps.%s.results[INDEX].%s", id, d.scope.foreach, b.doc.valPos(d.scope.foreach).Line, d.scope.foreachID, id)
	case d.branch != "" && !strings.HasPrefix(env.stepPath, d.branch+".") && strings.HasPrefix(env.stepPath, parentPath(parentPath(d.branch))+"."):
		return fmt.Sprintf("step %q runs in another parallel branch (line %d) and may not have ended; read it after the parallel step", id, line)
	}
	return fmt.Sprintf("step %q runs later (line %d); an expression can read only the steps that run before it", id, line)
}

// checkCycles reports actions that call themselves, directly or through
// other actions, which would recurse without end.
func (c *checker) checkCycles() {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		for _, call := range c.calls[name] {
			switch state[call.to] {
			case unvisited:
				visit(call.to)
			case visiting:
				i := len(stack) - 1
				for stack[i] != call.to {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), call.to)
				key := cycleKey(cycle[:len(cycle)-1])
				if !reported[key] {
					reported[key] = true
					c.errorf(call.doc, call.doc.valPos(call.path), call.path, "action cycle: %s; an action cannot call itself, directly or through other actions", strings.Join(cycle, " → "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range sortedKeys(c.calls) {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// cycleKey names a cycle the same whichever action it starts from.
func cycleKey(cycle []string) string {
	best := 0
	for i := range cycle {
		if cycle[i] < cycle[best] {
			best = i
		}
	}
	rotated := append(append([]string(nil), cycle[best:]...), cycle[:best]...)
	return strings.Join(rotated, "\x00")
}
