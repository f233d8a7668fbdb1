package flows

import (
	"io/fs"
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// The checks of connections and protocol profiles: hosts and URLs, credentials,
// OAuth 2.0 client authentication, project paths and header names.

func (c *checker) checkProfile(doc *document) {
	p := doc.value.(*ProtocolProfile)
	if contains(reservedProfiles, p.Name) {
		c.errorf(doc, doc.valPos("name"), "name", "%q is the name of a built-in protocol profile; choose another name", p.Name)
	}
	c.checkKeystore(doc, p)
	if ts := p.Truststore; ts != nil {
		c.checkTruststorePaths(doc, ts)
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
		c.checkPrivateKeyJWT(doc, ks)
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
