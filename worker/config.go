package worker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/yamlkit"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Config is an agent's configuration file, read by
// `outflow worker --config agent.yaml`: who the agent is, how it reaches
// Temporal, and the key material and secret stores of the machine it runs
// on. docs/agents.md describes every field.
//
// Relative paths in the file are relative to the file's folder.
type Config struct {
	// Name is the agent's own name: protocol profiles' applies_to may name
	// it, and step records show it as the worker.
	Name string `yaml:"name"`
	// Groups are the agent groups whose steps this agent runs: a
	// connection's agent: names one of them.
	Groups []string `yaml:"groups"`
	// Temporal says how to reach the Temporal frontend.
	Temporal TemporalConfig `yaml:"temporal"`
	// Flows makes the agent interpret flows too, like a default worker.
	Flows bool `yaml:"flows"`
	// DefaultSteps makes the agent run the steps of connections without an
	// agent too.
	DefaultSteps bool `yaml:"default_steps"`
	// ProjectDir is a copy of the project on this machine, where keystores
	// of store: project profiles are found. Default: the folder the plan was
	// compiled in.
	ProjectDir string `yaml:"project_dir"`
	// MaxConcurrentSteps caps the steps this agent runs at once per group;
	// 0 means the SDK's default.
	MaxConcurrentSteps int `yaml:"max_concurrent_steps"`
	// Profiles holds, by protocol profile name, the keystore and trust
	// store of profiles whose key material lives on agents (store: agent).
	Profiles map[string]*ProfileConfig `yaml:"profiles"`
	// Secrets configures the external secret stores vault: and cyberark:
	// references are read from.
	Secrets SecretsConfig `yaml:"secrets"`

	// File is the path the config was read from.
	File string `yaml:"-"`
	// Warnings are problems that do not stop the agent.
	Warnings yamlkit.Problems `yaml:"-"`

	dec *cfgDecoder // positions of the values, for Check
}

// TemporalConfig says how to reach Temporal.
type TemporalConfig struct {
	Address   string     `yaml:"address"`
	Namespace string     `yaml:"namespace"`
	TLS       *TLSConfig `yaml:"tls"`
}

// TLSConfig is the client side of a TLS connection from files: to Temporal,
// Vault or CyberArk.
type TLSConfig struct {
	// Keystore is one file with the private key and its chain: a PEM
	// bundle (any order, LF or CRLF, PKCS#1 or PKCS#8 key), PKCS#12 or JKS.
	Keystore string `yaml:"keystore"`
	// Cert and Key are the chain and the key as two PEM files.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Password opens a PKCS#12 or JKS keystore or an encrypted PEM key.
	Password    *SecretRef `yaml:"password"`
	KeyPassword *SecretRef `yaml:"key_password"`
	Alias       string     `yaml:"alias"`
	// CA is a file of the certificates trusted for the server; default: the
	// system's roots.
	CA         string `yaml:"ca"`
	ServerName string `yaml:"server_name"`
}

// ProfileConfig is an agent's own key material for one protocol profile.
type ProfileConfig struct {
	Keystore   *KeystoreConfig   `yaml:"keystore"`
	Truststore *TruststoreConfig `yaml:"truststore"`
}

// KeystoreConfig is a keystore file on the agent's machine.
type KeystoreConfig struct {
	Path        string     `yaml:"path"`
	Password    *SecretRef `yaml:"password"`
	KeyPassword *SecretRef `yaml:"key_password"`
	Alias       string     `yaml:"alias"`
}

// TruststoreConfig is a set of trusted certificate files on the agent's machine.
type TruststoreConfig struct {
	Paths       []string   `yaml:"paths"`
	Password    *SecretRef `yaml:"password"`
	SystemRoots bool       `yaml:"system_roots"`
}

// SecretsConfig configures external secret stores, and which references
// steps may resolve on this agent.
type SecretsConfig struct {
	// Allow, when set, lists the only references steps may resolve here:
	// references written out or prefixes ending in "*" ("env:PARTNER_*",
	// "file:/etc/outflow/partner/*", "vault:secret/partners/*"). The
	// references of profiles: in this config are allowed too. Whatever it
	// says, the agent's own secrets (ownRefs) never resolve for steps.
	Allow    []string        `yaml:"allow"`
	Vault    *VaultConfig    `yaml:"vault"`
	CyberArk *CyberArkConfig `yaml:"cyberark"`
}

// VaultConfig configures the vault: provider (HashiCorp Vault, KV v2).
type VaultConfig struct {
	Address   string         `yaml:"address"`
	Namespace string         `yaml:"namespace"`
	Token     *SecretRef     `yaml:"token"`
	AppRole   *AppRoleConfig `yaml:"approle"`
	// Mounts lists KV v2 mounts whose path has several segments.
	Mounts   []string   `yaml:"mounts"`
	TLS      *TLSConfig `yaml:"tls"`
	CacheTTL *Duration  `yaml:"cache_ttl"`
}

// AppRoleConfig is a Vault AppRole login.
type AppRoleConfig struct {
	Mount    string     `yaml:"mount"`
	RoleID   string     `yaml:"role_id"`
	SecretID *SecretRef `yaml:"secret_id"`
}

// CyberArkConfig configures the cyberark: provider (Central Credential Provider).
type CyberArkConfig struct {
	URL      string     `yaml:"url"`
	AppID    string     `yaml:"app_id"`
	TLS      *TLSConfig `yaml:"tls"`
	CacheTTL *Duration  `yaml:"cache_ttl"`
}

// SecretRef is a secret given by reference, written {secret: env:NAME} as
// in project files.
type SecretRef struct {
	Ref string `yaml:"secret"`
}

func (s *SecretRef) engine() *engine.SecretRef {
	if s == nil {
		return nil
	}
	return &engine.SecretRef{Ref: s.Ref}
}

// Duration is a time.Duration written like "90s" or "5m".
type Duration time.Duration

// LoadConfig reads and checks an agent config file. Every problem is
// reported at once, each at its position ("agent.yaml:7:5: temporal.tls.key:
// ..."), as yamlkit.Problems. It reads the files the config names, to tell a
// missing file now rather than at the first step, but opens no connection
// and resolves no secret.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading agent config: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit, so ParseConfig refuses a larger file
	// without it being read whole.
	data, err := io.ReadAll(io.LimitReader(f, yamlkit.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading agent config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig for data already read from path.
func ParseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{File: path}
	// The project loader's guards: nesting depth, token budget, aliases.
	bodies, problems := yamlkit.ParseYAML(path, data)
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, problems
	}
	d := newCfgDecoder(path)
	if len(bodies) == 0 {
		d.Errorf(yamlkit.Position{Line: 1, Col: 1}, "", "the file is empty; an agent config needs at least name: and groups:")
		return nil, d.Problems()
	}
	if len(bodies) > 1 {
		d.ErrAt(bodies[1], "", "an agent config is one YAML document; remove the second one (---)")
	}
	d.DecodeDocument(bodies[0], cfg)
	cfg.check(d)
	if problems := d.Problems(); len(problems) > 0 {
		sortProblems(problems)
		return nil, problems
	}
	cfg.Warnings = d.warnings
	cfg.dec = d
	return cfg, nil
}

func sortProblems(ps yamlkit.Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}

// dir is the folder relative paths of the config are resolved against.
func (c *Config) dir() string {
	abs, err := filepath.Abs(filepath.Dir(c.File))
	if err != nil {
		return filepath.Dir(c.File)
	}
	return abs
}

func (c *Config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir(), p)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

const nameHelp = "use letters, digits, '.', '_' and '-', starting with a letter or digit"

// check validates the decoded config, with positions from the decoder.
func (c *Config) check(d *cfgDecoder) {
	switch {
	case c.Name == "" && !d.Has("name"):
		d.Errorf(d.ValPos(""), "name", "missing name: the agent's own name, which applies_to and step records use")
	case !namePattern.MatchString(c.Name):
		d.Errorf(d.ValPos("name"), "name", "invalid agent name %q: %s", c.Name, nameHelp)
	}
	seen := map[string]bool{}
	for i, g := range c.Groups {
		p := fmt.Sprintf("groups[%d]", i)
		switch {
		case !namePattern.MatchString(g):
			d.Errorf(d.ValPos(p), p, "invalid agent group %q: %s", g, nameHelp)
		case seen[g]:
			d.Errorf(d.ValPos(p), p, "group %q is listed twice", g)
		}
		seen[g] = true
	}
	if len(c.Groups) == 0 && !c.Flows && !c.DefaultSteps && !d.Troubled("groups") {
		d.Errorf(d.KeyPos("groups"), "groups", "the agent serves nothing: list the agent groups whose steps it runs (the agent: of connections), or set flows: true or default_steps: true")
	}
	if a := c.Temporal.Address; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			d.Errorf(d.ValPos("temporal.address"), "temporal.address", "%q is not host:port, such as temporal.example.com:7233", a)
		} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			d.Errorf(d.ValPos("temporal.address"), "temporal.address", "%q has no valid port", a)
		}
	}
	if c.Temporal.TLS != nil {
		c.checkTLS(d, "temporal.tls", c.Temporal.TLS)
	}
	if c.ProjectDir != "" {
		if fi, err := os.Stat(c.abs(c.ProjectDir)); err != nil || !fi.IsDir() {
			d.Errorf(d.ValPos("project_dir"), "project_dir", "%s is not a folder on this machine", c.abs(c.ProjectDir))
		}
	}
	if c.MaxConcurrentSteps < 0 {
		d.Errorf(d.ValPos("max_concurrent_steps"), "max_concurrent_steps", "must be 0 (the default) or more")
	}
	c.checkSecrets(d)
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.checkProfile(d, n, c.Profiles[n])
	}
	own := map[string]string{}
	for _, o := range c.ownRefs() {
		own[o.Ref] = o.Why
	}
	for _, n := range names {
		base := yamlkit.JoinPath("profiles", n)
		for _, r := range c.profileRefs(n) {
			if why, ok := own[c.absFileRef(r.ref.engine()).Ref]; ok {
				d.Errorf(d.ValPos(base+r.field+".secret"), base+r.field+".secret",
					"%q is also %s: steps may not read the agent's own secrets; give the profile a reference of its own", r.ref.Ref, why)
			}
		}
	}
}

type profileRef struct {
	field string // after profiles.NAME
	ref   *SecretRef
}

// profileRefs are the secret references of profile name, which steps
// resolve.
func (c *Config) profileRefs(name string) []profileRef {
	p := c.Profiles[name]
	if p == nil {
		return nil
	}
	var out []profileRef
	add := func(field string, r *SecretRef) {
		if r != nil && r.Ref != "" {
			out = append(out, profileRef{field, r})
		}
	}
	if ks := p.Keystore; ks != nil {
		add(".keystore.password", ks.Password)
		add(".keystore.key_password", ks.KeyPassword)
	}
	if ts := p.Truststore; ts != nil {
		add(".truststore.password", ts.Password)
	}
	return out
}

// ownRefs are the secrets the agent opens its own connections with — the
// Temporal client certificate and the credentials of its secret stores —
// as references (files as file:PATH), each with the field that names it.
// Steps may not resolve them: a project could otherwise send the agent's
// Vault token to a host of its choosing.
func (c *Config) ownRefs() []secrets.Denied {
	var out []secrets.Denied
	add := func(field, ref string) {
		out = append(out, secrets.Denied{Ref: ref, Why: field + " in " + c.File})
	}
	ref := func(field string, r *SecretRef) {
		if r != nil && r.Ref != "" {
			add(field, c.absFileRef(r.engine()).Ref)
		}
	}
	file := func(field, p string) {
		if p != "" {
			add(field, "file:"+c.abs(p))
		}
	}
	tlsBlock := func(base string, t *TLSConfig) {
		if t == nil {
			return
		}
		file(base+".keystore", t.Keystore)
		file(base+".cert", t.Cert)
		file(base+".key", t.Key)
		ref(base+".password", t.Password)
		ref(base+".key_password", t.KeyPassword)
	}
	tlsBlock("temporal.tls", c.Temporal.TLS)
	if v := c.Secrets.Vault; v != nil {
		ref("secrets.vault.token", v.Token)
		if v.AppRole != nil {
			ref("secrets.vault.approle.secret_id", v.AppRole.SecretID)
		}
		tlsBlock("secrets.vault.tls", v.TLS)
	}
	if ca := c.Secrets.CyberArk; ca != nil {
		tlsBlock("secrets.cyberark.tls", ca.TLS)
	}
	return out
}

// absAllow makes a relative file: entry of secrets.allow absolute, relative
// to the config's folder.
func (c *Config) absAllow(a string) string {
	if p, ok := strings.CutPrefix(a, "file:"); ok && p != "" && p != "*" && !filepath.IsAbs(p) {
		base, star := strings.CutSuffix(p, "*")
		abs := c.abs(base) // cleaned: a trailing / is dropped
		if strings.HasSuffix(base, "/") {
			abs += "/"
		}
		if star {
			abs += "*"
		}
		return "file:" + abs
	}
	return a
}

// SecretPolicy is what steps may resolve on this agent: not its own
// secrets (nor those of the process, given as own), and, when
// secrets.allow is set, only what it and the profiles of this config name.
func (c *Config) SecretPolicy(own ...secrets.Denied) secrets.Policy {
	p := secrets.Policy{Who: fmt.Sprintf("agent %q", c.Name), AllowSetting: "secrets.allow in " + c.File,
		Deny: append(c.ownRefs(), own...)}
	if len(c.Secrets.Allow) > 0 {
		for _, a := range c.Secrets.Allow {
			p.Allow = append(p.Allow, c.absAllow(a))
		}
		names := make([]string, 0, len(c.Profiles))
		for n := range c.Profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, r := range c.profileRefs(n) {
				p.Allow = append(p.Allow, c.absFileRef(r.ref.engine()).Ref)
			}
		}
	}
	return p
}

func (c *Config) checkSecrets(d *cfgDecoder) {
	for i, a := range c.Secrets.Allow {
		p := fmt.Sprintf("secrets.allow[%d]", i)
		if err := secrets.CheckAllow(c.absAllow(a)); err != nil {
			d.Errorf(d.ValPos(p), p, "%v", err)
		}
	}
	if v := c.Secrets.Vault; v != nil {
		base := "secrets.vault"
		checkURL(d, base+".address", v.Address, "https://vault.example:8200")
		switch {
		case v.Token == nil && v.AppRole == nil && !d.Troubled(base+".token") && !d.Troubled(base+".approle"):
			d.Errorf(d.KeyPos(base), base, "vault needs token: or approle: to authenticate")
		case v.Token != nil && v.AppRole != nil:
			d.Errorf(d.KeyPos(base+".approle"), base+".approle", "give token: or approle:, not both")
		}
		if v.Token != nil {
			c.checkBootstrapRef(d, base+".token", v.Token)
		}
		if ar := v.AppRole; ar != nil {
			if ar.RoleID == "" && !d.Troubled(base+".approle.role_id") {
				d.Errorf(d.KeyPos(base+".approle"), base+".approle.role_id", "missing role_id: the AppRole's role ID")
			}
			if ar.SecretID == nil && !d.Troubled(base+".approle.secret_id") {
				d.Errorf(d.KeyPos(base+".approle"), base+".approle.secret_id", "missing secret_id: the AppRole's secret ID, such as {secret: file:/etc/outflow/vault-secret-id}")
			} else if ar.SecretID != nil {
				c.checkBootstrapRef(d, base+".approle.secret_id", ar.SecretID)
			}
		}
		for i, m := range v.Mounts {
			if strings.Trim(m, "/") == "" {
				p := fmt.Sprintf("%s.mounts[%d]", base, i)
				d.Errorf(d.ValPos(p), p, "empty mount path")
			}
		}
		if v.TLS != nil {
			c.checkTLS(d, base+".tls", v.TLS)
		}
		checkTTL(d, base+".cache_ttl", v.CacheTTL)
	}
	if ca := c.Secrets.CyberArk; ca != nil {
		base := "secrets.cyberark"
		checkURL(d, base+".url", ca.URL, "https://ccp.example.com")
		if ca.AppID == "" && !d.Troubled(base+".app_id") {
			d.Errorf(d.KeyPos(base), base+".app_id", "missing app_id: the application ID the Central Credential Provider knows this agent by")
		}
		if ca.TLS != nil {
			c.checkTLS(d, base+".tls", ca.TLS)
		}
		checkTTL(d, base+".cache_ttl", ca.CacheTTL)
	}
}

func checkURL(d *cfgDecoder, path, raw, example string) {
	if raw == "" {
		if !d.Troubled(path) {
			d.Errorf(d.KeyPos(yamlkit.ParentPath(path)), path, "missing %s, such as %s", lastOf(path), example)
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		d.Errorf(d.ValPos(path), path, "%q is not an http(s) URL such as %s", raw, example)
		return
	}
	if u.Scheme == "http" {
		d.warnf(d.ValPos(path), path, "secrets travel in clear text over http; use https outside tests")
	}
}

func checkTTL(d *cfgDecoder, path string, ttl *Duration) {
	if ttl != nil && *ttl < 0 {
		d.Errorf(d.ValPos(path), path, "a cache TTL cannot be negative; 0s turns caching off")
	}
}

// checkBootstrapRef checks a secret that opens a connection to Temporal or
// a secret store: it can only come from the environment or a file, since
// the other providers need those connections.
func (c *Config) checkBootstrapRef(d *cfgDecoder, path string, ref *SecretRef) {
	if ref == nil || ref.Ref == "" {
		return
	}
	scheme, _, _ := strings.Cut(ref.Ref, ":")
	if scheme != "env" && scheme != "file" {
		d.Errorf(d.ValPos(path+".secret"), path+".secret", "%q: the secrets that open connections to Temporal and to secret stores come from env: or file:", ref.Ref)
	}
}

// checkRef checks a secret a step resolves: its provider must be set up.
func (c *Config) checkRef(d *cfgDecoder, path string, ref *SecretRef) {
	if ref == nil || ref.Ref == "" {
		return
	}
	scheme, _, _ := strings.Cut(ref.Ref, ":")
	switch {
	case scheme == "vault" && c.Secrets.Vault == nil:
		d.Errorf(d.ValPos(path+".secret"), path+".secret", "%q needs secrets.vault in this config", ref.Ref)
	case scheme == "cyberark" && c.Secrets.CyberArk == nil:
		d.Errorf(d.ValPos(path+".secret"), path+".secret", "%q needs secrets.cyberark in this config", ref.Ref)
	}
}

func (c *Config) checkTLS(d *cfgDecoder, base string, t *TLSConfig) {
	switch {
	case t.Keystore != "" && (t.Cert != "" || t.Key != ""):
		d.Errorf(d.KeyPos(base+".keystore"), base+".keystore", "give keystore: (one file with key and chain) or cert: and key:, not both")
	case t.Cert != "" && t.Key == "":
		d.Errorf(d.KeyPos(base+".cert"), base+".key", "cert: without key: give the private key file too, or give one file holding both as keystore:")
	case t.Key != "" && t.Cert == "":
		d.Errorf(d.KeyPos(base+".key"), base+".cert", "key: without cert: give the certificate chain file too, or give one file holding both as keystore:")
	}
	for _, f := range []struct{ field, path string }{{"keystore", t.Keystore}, {"cert", t.Cert}, {"key", t.Key}, {"ca", t.CA}} {
		if f.path != "" {
			c.checkFile(d, base+"."+f.field, f.path)
		}
	}
	if (t.Password != nil || t.KeyPassword != nil || t.Alias != "") && t.Keystore == "" && t.Cert == "" {
		d.Errorf(d.KeyPos(base), base, "password, key_password and alias open a client keystore; give keystore: or cert: and key:")
	}
	c.checkBootstrapRef(d, base+".password", t.Password)
	c.checkBootstrapRef(d, base+".key_password", t.KeyPassword)
}

func (c *Config) checkFile(d *cfgDecoder, path, file string) {
	fi, err := os.Stat(c.abs(file))
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.Errorf(d.ValPos(path), path, "%s does not exist on this machine (relative paths are relative to the config's folder)", c.abs(file))
	case err != nil:
		d.Errorf(d.ValPos(path), path, "reading %s: %v", c.abs(file), err)
	case fi.IsDir():
		d.Errorf(d.ValPos(path), path, "%s is a folder; name a file", c.abs(file))
	}
}

func (c *Config) checkProfile(d *cfgDecoder, name string, p *ProfileConfig) {
	base := yamlkit.JoinPath("profiles", name)
	if !namePattern.MatchString(name) {
		d.Errorf(d.KeyPos(base), base, "invalid protocol profile name %q: %s", name, nameHelp)
	}
	if p == nil || (p.Keystore == nil && p.Truststore == nil) {
		d.Errorf(d.KeyPos(base), base, "give the profile's keystore: (and, if this agent trusts other CAs than the project says, truststore:)")
		return
	}
	if ks := p.Keystore; ks != nil {
		if ks.Path == "" && !d.Troubled(base+".keystore.path") {
			d.Errorf(d.KeyPos(base+".keystore"), base+".keystore.path", "missing path: the keystore file on this machine")
		} else if ks.Path != "" {
			c.checkFile(d, base+".keystore.path", ks.Path)
		}
		c.checkRef(d, base+".keystore.password", ks.Password)
		c.checkRef(d, base+".keystore.key_password", ks.KeyPassword)
	}
	if ts := p.Truststore; ts != nil {
		if len(ts.Paths) == 0 && !ts.SystemRoots && !d.Troubled(base+".truststore") {
			d.Errorf(d.KeyPos(base+".truststore"), base+".truststore", "a truststore trusts nothing without paths or system_roots: true")
		}
		for i, f := range ts.Paths {
			c.checkFile(d, fmt.Sprintf("%s.truststore.paths[%d]", base, i), f)
		}
		c.checkRef(d, base+".truststore.password", ts.Password)
	}
}

// Agent is what the steps of this agent need to know about it, with every
// path made absolute.
func (c *Config) Agent() *steps.Agent {
	a := &steps.Agent{Name: c.Name, Groups: append([]string(nil), c.Groups...), Dir: c.dir(), Profiles: map[string]*steps.LocalProfile{}}
	for name, p := range c.Profiles {
		lp := &steps.LocalProfile{}
		if ks := p.Keystore; ks != nil {
			lp.Keystore = &engine.Keystore{Path: c.abs(ks.Path), Password: c.absFileRef(ks.Password.engine()),
				KeyPassword: c.absFileRef(ks.KeyPassword.engine()), Alias: ks.Alias}
		}
		if ts := p.Truststore; ts != nil {
			et := &engine.Truststore{Password: c.absFileRef(ts.Password.engine()), SystemRoots: ts.SystemRoots}
			for _, f := range ts.Paths {
				et.Paths = append(et.Paths, c.abs(f))
			}
			lp.Truststore = et
		}
		a.Profiles[name] = lp
	}
	return a
}

func lastOf(path string) string {
	if i := strings.LastIndexAny(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}
