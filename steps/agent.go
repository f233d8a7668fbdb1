package steps

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/outflow-dev/outflow/engine"
)

// Agent is what a worker running as an agent knows about itself: its name
// and groups, which a protocol profile's applies_to is checked against, and
// the key material its own configuration holds for profiles whose keystore
// lives on agents (store: agent), like a MID server's config.xml.
type Agent struct {
	// Name is the agent's own name.
	Name string
	// Groups are the agent groups whose steps it runs.
	Groups []string
	// Profiles holds, by protocol profile name, the keystore (and, when
	// set, trust store) this agent uses for a store: agent profile, with
	// absolute paths and passwords as secret references.
	Profiles map[string]*LocalProfile
	// Dir is where relative keystore paths that a store: agent profile
	// gives in the project are found on this agent (the folder of its
	// config file).
	Dir string
}

// LocalProfile is an agent's own key material for one protocol profile.
type LocalProfile struct {
	Keystore   *engine.Keystore
	Truststore *engine.Truststore
}

func (a *Agent) String() string {
	if a == nil {
		return "a default worker, not an agent"
	}
	s := fmt.Sprintf("agent %q", a.Name)
	if len(a.Groups) > 0 {
		s += " (groups " + strings.Join(a.Groups, ", ") + ")"
	}
	return s
}

// mayUse reports whether a profile's applies_to names this agent or one of
// its groups. An empty list, or "all", applies to every worker.
func (a *Agent) mayUse(p *engine.ProtocolProfile) bool {
	if len(p.AppliesTo) == 0 || slices.Contains(p.AppliesTo, "all") {
		return true
	}
	if a == nil {
		return false
	}
	for _, n := range p.AppliesTo {
		if n == a.Name || slices.Contains(a.Groups, n) {
			return true
		}
	}
	return false
}

// ProfileRefusedError is returned when a step runs on a worker that the
// profile's applies_to leaves out. It does not go away by retrying.
type ProfileRefusedError struct {
	Profile   string
	AppliesTo []string
	// Worker describes the worker that refused: its agent name and groups.
	Worker string
}

func (e *ProfileRefusedError) Error() string {
	return fmt.Sprintf("protocol profile %q applies to %s only, and this worker is %s: route the connection to one of those agents (agent:) or add this one to the profile's applies_to",
		e.Profile, strings.Join(e.AppliesTo, ", "), e.Worker)
}

// placeProfile checks that this worker may use the profile and says where
// its keystore is on this worker: the project's file (store: project), the
// agent's own (store: agent), or a copy of one fetched from a secret store
// (store: vault). The profile returned is a copy when anything changed.
func (t *Transports) placeProfile(ctx context.Context, conn *engine.Connection, p *engine.ProtocolProfile, baseDir string) (*engine.ProtocolProfile, error) {
	if !t.Agent.mayUse(p) {
		return nil, &ProfileRefusedError{Profile: p.Name, AppliesTo: p.AppliesTo, Worker: t.Agent.String()}
	}
	needKey := conn == nil || conn.MutualAuth
	switch p.Store {
	case "", "project":
		if needKey && p.Keystore != nil && p.Keystore.Path != "" {
			if err := keystoreExists(absPath(baseDir, p.Keystore.Path), p, t.Agent,
				"the project's keystore must be on every worker that runs its steps: copy it there, or keep it on the agent with store: agent"); err != nil {
				return nil, err
			}
		}
		return p, nil
	case "agent":
		return t.agentProfile(p, needKey)
	case "vault":
		return t.vaultProfile(ctx, p, baseDir, needKey)
	}
	return nil, fmt.Errorf("protocol profile %q has store %q; use project, agent or vault", p.Name, p.Store)
}

func (t *Transports) agentProfile(p *engine.ProtocolProfile, needKey bool) (*engine.ProtocolProfile, error) {
	cp := *p
	var local *LocalProfile
	if t.Agent != nil {
		local = t.Agent.Profiles[p.Name]
	}
	if local != nil && local.Truststore != nil {
		cp.Truststore = local.Truststore
	}
	if !needKey {
		return &cp, nil
	}
	if t.Agent == nil {
		return nil, fmt.Errorf("protocol profile %q keeps its keystore on agents (store: agent), and this worker is %s: route the connection to an agent group (agent:) whose agents have profiles.%s in their config",
			p.Name, t.Agent, p.Name)
	}
	switch {
	case local != nil && local.Keystore != nil:
		ks := *local.Keystore
		if ks.Alias == "" && p.Keystore != nil {
			ks.Alias = p.Keystore.Alias
		}
		ks.Path = absPath(t.Agent.Dir, ks.Path)
		cp.Keystore = &ks
	case p.Keystore != nil && p.Keystore.Path != "":
		// The project names a file on the agent's machine and the password
		// reference; both are read here.
		ks := *p.Keystore
		ks.Path = absPath(t.Agent.Dir, ks.Path)
		cp.Keystore = &ks
	default:
		return nil, fmt.Errorf("protocol profile %q keeps its keystore on agents (store: agent), but the config of %s has no profiles.%s.keystore",
			p.Name, t.Agent, p.Name)
	}
	if err := keystoreExists(cp.Keystore.Path, p, t.Agent, "the agent's config names a file that is not there"); err != nil {
		return nil, err
	}
	return &cp, nil
}

func (t *Transports) vaultProfile(ctx context.Context, p *engine.ProtocolProfile, baseDir string, needKey bool) (*engine.ProtocolProfile, error) {
	if !needKey || p.Keystore == nil || p.Keystore.Path == "" {
		return p, nil
	}
	if !isSecretRef(p.Keystore.Path) {
		// Only the passwords are in the external store; the file is local.
		if err := keystoreExists(absPath(baseDir, p.Keystore.Path), p, t.Agent, "give the keystore as a secret reference ("+storeForms()+") to fetch it"); err != nil {
			return nil, err
		}
		return p, nil
	}
	value, err := t.Secrets.Resolve(ctx, p.Keystore.Path)
	if err != nil {
		return nil, fmt.Errorf("fetching the keystore of protocol profile %q: %w", p.Name, err)
	}
	data, err := decodeStoredKeystore(value)
	if err != nil {
		return nil, fmt.Errorf("reading the keystore of protocol profile %q from %s: %w", p.Name, p.Keystore.Path, err)
	}
	path, err := t.stored.write(p.Name, data)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("keeping the keystore of protocol profile %q: %w", p.Name, err)
	}
	cp := *p
	ks := *p.Keystore
	ks.Path = path
	cp.Keystore = &ks
	return &cp, nil
}

// storeForms lists the references of the external secret stores
// (vault:MOUNT/PATH#FIELD, cyberark:SAFE/OBJECT).
func storeForms() string {
	var forms []string
	for _, s := range engine.SecretSchemes {
		if s.Store != "" {
			forms = append(forms, s.Form)
		}
	}
	return strings.Join(forms, ", ")
}

// isSecretRef tells a secret reference from a file path.
func isSecretRef(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	return ok && rest != "" && engine.SecretSchemeOf(scheme) != nil
}

// decodeStoredKeystore turns a secret's value into keystore bytes: PEM text
// as it is, anything else as base64 (how binary PKCS#12 and JKS files are
// kept in stores of text). Errors never quote the value.
func decodeStoredKeystore(v string) ([]byte, error) {
	trimmed := strings.TrimSpace(v)
	if strings.HasPrefix(trimmed, "-----BEGIN") {
		return []byte(v), nil
	}
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, trimmed)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(compact); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, errors.New("the secret holds neither a PEM keystore nor a base64-encoded PKCS#12 or JKS file")
}

func keystoreExists(path string, p *engine.ProtocolProfile, a *Agent, hint string) error {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("keystore %s of protocol profile %q (store: %s) does not exist on this worker (%s); %s", path, p.Name, storeName(p), a, hint)
	}
	return fmt.Errorf("reading keystore of protocol profile %q: %w", p.Name, err)
}

func storeName(p *engine.ProtocolProfile) string {
	if p.Store == "" {
		return "project"
	}
	return p.Store
}

func absPath(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// storedKeystores keeps keystores fetched from a secret store in private
// files: the transport cache reads key material from a file and notices
// when it changes, so a keystore rotated in the store is presented from the
// next handshake on. Files are rewritten only when the content changed.
type storedKeystores struct {
	mu   sync.Mutex
	dir  string
	sums map[string][sha256.Size]byte
}

func (s *storedKeystores) write(profile string, data []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		// MkdirTemp makes the folder readable by this user only.
		dir, err := os.MkdirTemp("", "outflow-keystores-")
		if err != nil {
			return "", err
		}
		s.dir, s.sums = dir, map[string][sha256.Size]byte{}
	}
	name := sha256.Sum256([]byte(profile))
	path := filepath.Join(s.dir, hex.EncodeToString(name[:8])+".keystore")
	sum := sha256.Sum256(data)
	if old, ok := s.sums[profile]; ok && old == sum {
		return path, nil
	}
	f, err := os.CreateTemp(s.dir, ".new-*")
	if err != nil {
		return "", err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	// Renaming replaces the file at once: a handshake never reads half of it.
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	s.sums[profile] = sum
	return path, nil
}

func (s *storedKeystores) remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir, s.sums = "", nil
	return err
}

// Close removes the keystores this worker fetched from secret stores and
// closes idle connections. The transports stay usable.
func (t *Transports) Close() error {
	if t.Cache != nil {
		t.Cache.CloseIdleConnections()
	}
	return t.stored.remove()
}
