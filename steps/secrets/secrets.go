// Package secrets resolves secret references on the worker that runs a
// step, of the schemes engine.SecretSchemes lists: "env:NAME" and
// "file:PATH" (New registers them), "vault:MOUNT/PATH#FIELD" (HashiCorp
// Vault KV v2, NewVault) and "cyberark:SAFE/OBJECT" (CyberArk Central
// Credential Provider, NewCyberArk), which a worker's config sets up.
// Values never leave the worker: they are not returned to workflows, logged
// or put in errors; errors name the reference.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/outflow-dev/outflow/engine"
)

// Provider resolves references of one scheme ("env", "file", ...).
type Provider interface {
	Resolve(ctx context.Context, name string) (string, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, name string) (string, error)

// Resolve calls f.
func (f ProviderFunc) Resolve(ctx context.Context, name string) (string, error) { return f(ctx, name) }

// Resolver resolves references through registered providers, within its
// Policy when Restrict gave it one. The zero value is not usable; use New.
// It is safe for concurrent use.
type Resolver struct {
	mu        sync.RWMutex
	providers map[string]Provider
	seen      *Seen   // see Watch
	baseDir   string  // relative file: references are read under it
	policy    *policy // see Restrict; nil allows everything
}

// Error is a failure to resolve a reference. It names the reference, never a value.
type Error struct {
	Ref string
	Err error
}

func (e *Error) Error() string {
	if e.Ref == "" {
		return fmt.Sprintf("resolving secret: %v", e.Err)
	}
	return fmt.Sprintf("resolving secret %q: %v", e.Ref, e.Err)
}

// Schemes are the names of the secret providers Outflow has; a worker has
// those it is configured for. They are safe to repeat in a message.
var Schemes = []string{"env", "file", "vault", "cyberark"}

func (e *Error) Unwrap() error { return e.Err }

// New returns a resolver with the env and file providers; relative file paths
// are read under baseDir.
func New(baseDir string) *Resolver {
	r := &Resolver{providers: map[string]Provider{}, baseDir: baseDir}
	r.Register("env", ProviderFunc(func(_ context.Context, name string) (string, error) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set on this worker", name)
		}
		return v, nil
	}))
	r.Register("file", ProviderFunc(func(_ context.Context, name string) (string, error) {
		p := name
		if !filepath.IsAbs(p) && baseDir != "" {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) {
				return "", fmt.Errorf("file %s does not exist on this worker", p)
			}
			return "", fmt.Errorf("reading %s: %w", p, err)
		}
		// Files written by editors and `echo` end in a newline that is not part of the secret.
		return strings.TrimRight(string(b), "\r\n"), nil
	}))
	return r
}

// Register adds or replaces the provider of a scheme.
func (r *Resolver) Register(scheme string, p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.providers[scheme] = p
}

// Resolve returns the value of a reference such as "env:PARTNER_PASSWORD".
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	// Something that is not a reference may be the secret itself, given
	// where a reference was wanted: it is never repeated in the error.
	scheme, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" {
		return "", &Error{Err: errors.New("the value given is not a secret reference (it is not repeated here, since it may be the secret itself): " +
			"a reference looks like " + engine.SecretForms())}
	}
	r.mu.RLock()
	p, seen, pol := r.providers[scheme], r.seen, r.policy
	r.mu.RUnlock()
	if pol != nil {
		var err error
		if name, err = pol.check(scheme, name, r.baseDir); err != nil {
			return "", &Error{Ref: ref, Err: err}
		}
	}
	if p == nil {
		if !slices.Contains(Schemes, scheme) {
			return "", &Error{Err: fmt.Errorf("the value given does not start with a secret provider of this worker (%s) and is not repeated here, since it may be the secret itself",
				strings.Join(r.schemes(), ", "))}
		}
		hint := ""
		if s := engine.SecretSchemeOf(scheme); s != nil && s.Store != "" {
			hint = fmt.Sprintf("; configure %s in the worker's config (outflow worker --config)", s.Store)
		}
		return "", &Error{Ref: ref, Err: fmt.Errorf("no secret provider %q on this worker (have: %s)%s", scheme, strings.Join(r.schemes(), ", "), hint)}
	}
	v, err := p.Resolve(ctx, name)
	if err != nil {
		return "", &Error{Ref: ref, Err: err}
	}
	seen.Add(v)
	RedactorFrom(ctx).add(ref, v)
	return v, nil
}

func (r *Resolver) schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.providers))
	for k := range r.providers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
