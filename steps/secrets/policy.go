package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Policy limits the references a Resolver resolves for steps. A project
// chooses its references, and a step sends what they resolve to a host the
// project chooses: without a policy, `env:VAULT_TOKEN` or the file of the
// worker's own Temporal key would go wherever a project says.
type Policy struct {
	// Allow, when not empty, lists the only references that resolve: a
	// reference written out ("env:PARTNER_PASSWORD",
	// "file:/etc/outflow/partner.pass") or a prefix ending in "*"
	// ("env:PARTNER_*", "file:/etc/outflow/partner/*", "vault:*"). file:
	// entries are absolute paths; a file is matched after its links are
	// resolved, so a link cannot lead out of an allowed folder.
	Allow []string
	// Deny lists references that never resolve, whatever Allow says: the
	// worker's own secrets.
	Deny []Denied
	// Who names the worker in messages, such as `agent "dmz-1"`; default
	// "this worker".
	Who string
	// AllowSetting names where Allow is set, for messages, such as
	// "secrets.allow in /etc/outflow/agent.yaml".
	AllowSetting string
}

// Denied is a reference a worker uses itself, and the setting that uses
// it ("secrets.vault.token in /etc/outflow/agent.yaml", "--payload-key").
type Denied struct {
	Ref string
	Why string
}

// RefusedError is a reference the resolver's Policy refuses. It is wrapped
// in an *Error naming the reference.
type RefusedError struct {
	// Reason says why and what to change.
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// processPrefixes hold files of processes and devices, not secrets:
// /proc/self/environ would hand out every variable of the worker.
var processPrefixes = []string{"/proc/", "/dev/", "/sys/"}

// policy is a Policy made ready to check references.
type policy struct {
	who, allowSetting string
	allow             []allowEntry
	allowText         []string
	denyRef           map[string]string // non-file references, exactly
	denyFile          []deniedFile
}

type allowEntry struct {
	scheme, name string
	prefix       bool
}

type deniedFile struct {
	path string      // cleaned, links resolved where they exist
	info os.FileInfo // nil when the file did not exist
	why  string
}

// CheckAllow checks one entry of an allow-list, as Policy.Allow takes it.
func CheckAllow(entry string) error {
	scheme, name, ok := strings.Cut(entry, ":")
	if !ok || name == "" {
		return fmt.Errorf("%q is not a secret reference or a prefix of one, such as env:PARTNER_* or file:/etc/outflow/partner/*", entry)
	}
	switch scheme {
	case "env", "file", "vault", "cyberark":
	default:
		return fmt.Errorf("%q: unknown scheme %q (env, file, vault, cyberark)", entry, scheme)
	}
	if i := strings.IndexByte(name, '*'); i >= 0 && i != len(name)-1 {
		return fmt.Errorf("%q: * may only end an entry (a prefix)", entry)
	}
	if scheme == "file" && !filepath.IsAbs(strings.TrimSuffix(name, "*")) && name != "*" {
		return fmt.Errorf("%q: give an absolute path", entry)
	}
	return nil
}

// Restrict makes r resolve only what p allows. It is meant to be called
// once, before r is used.
func (r *Resolver) Restrict(p Policy) error {
	c := &policy{who: p.Who, allowSetting: p.AllowSetting, denyRef: map[string]string{}}
	if c.who == "" {
		c.who = "this worker"
	}
	for _, a := range p.Allow {
		if err := CheckAllow(a); err != nil {
			return fmt.Errorf("secret allow-list: %w", err)
		}
		scheme, name, _ := strings.Cut(a, ":")
		e := allowEntry{scheme: scheme, name: name}
		if strings.HasSuffix(name, "*") {
			e.prefix, e.name = true, strings.TrimSuffix(name, "*")
		}
		if scheme == "file" && e.name != "" {
			if e.prefix && strings.HasSuffix(e.name, string(filepath.Separator)) {
				e.name = canonical(filepath.Clean(e.name)) + string(filepath.Separator)
			} else if !e.prefix {
				e.name = canonical(filepath.Clean(e.name))
			}
		}
		c.allow = append(c.allow, e)
		c.allowText = append(c.allowText, a)
	}
	for _, d := range p.Deny {
		scheme, name, ok := strings.Cut(d.Ref, ":")
		if !ok || name == "" {
			continue
		}
		if scheme != "file" {
			c.denyRef[d.Ref] = d.Why
			continue
		}
		if !filepath.IsAbs(name) {
			return fmt.Errorf("secret deny-list: %q is not an absolute path", d.Ref)
		}
		f := deniedFile{path: canonical(filepath.Clean(name)), why: d.Why}
		if fi, err := os.Stat(f.path); err == nil {
			f.info = fi
		}
		c.denyFile = append(c.denyFile, f)
	}
	r.mu.Lock()
	r.policy = c
	r.mu.Unlock()
	return nil
}

// canonical resolves the links of p where they exist: the file, or else
// its folder.
func canonical(p string) string {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return p
}

// check returns the name to resolve (for file:, the path with its links
// resolved, so that what is read is what was checked), or why not.
func (c *policy) check(scheme, name, baseDir string) (string, error) {
	ref := scheme + ":" + name
	if scheme == "file" {
		p := name
		if !filepath.IsAbs(p) {
			if baseDir == "" {
				if abs, err := filepath.Abs(p); err == nil {
					p = abs
				}
			} else {
				p = filepath.Join(baseDir, p)
			}
		}
		p = filepath.Clean(p)
		real := canonical(p)
		for _, pre := range processPrefixes {
			if strings.HasPrefix(p+"/", pre) || strings.HasPrefix(real+"/", pre) {
				return "", &RefusedError{Reason: fmt.Sprintf("refused on %s: %s is a file of the system (%s), not a secret", c.who, real, strings.TrimSuffix(pre, "/"))}
			}
		}
		var info os.FileInfo
		if fi, err := os.Stat(real); err == nil {
			info = fi
		}
		for _, d := range c.denyFile {
			if d.path == real || (info != nil && d.info != nil && os.SameFile(info, d.info)) {
				return "", c.own(d.why)
			}
		}
		if err := c.allowed(scheme, real, ref); err != nil {
			return "", err
		}
		return real, nil
	}
	if why, ok := c.denyRef[ref]; ok {
		return "", c.own(why)
	}
	if scheme != "env" {
		// A store may clean "partners/../other" to "other": a prefix
		// allowed must be the path read.
		path, _, _ := strings.Cut(name, "#")
		for seg := range strings.SplitSeq(path, "/") {
			if seg == "." || seg == ".." {
				return "", &RefusedError{Reason: fmt.Sprintf("refused on %s: a reference names its path without . or .. segments", c.who)}
			}
		}
	}
	if err := c.allowed(scheme, name, ref); err != nil {
		return "", err
	}
	return name, nil
}

func (c *policy) own(why string) error {
	return &RefusedError{Reason: fmt.Sprintf("refused on %s: it is the worker's own secret (%s), which steps may not read; give the step a secret of its own", c.who, why)}
}

func (c *policy) allowed(scheme, name, ref string) error {
	if len(c.allow) == 0 {
		return nil
	}
	for _, a := range c.allow {
		if a.scheme != scheme {
			continue
		}
		if (a.prefix && strings.HasPrefix(name, a.name)) || (!a.prefix && name == a.name) {
			return nil
		}
	}
	shown := ref
	if scheme == "file" {
		shown = "file:" + name
	}
	return &RefusedError{Reason: fmt.Sprintf("refused on %s: %s is not in %s (%s); add it there to let steps read it",
		c.who, shown, c.allowSetting, strings.Join(c.allowText, ", "))}
}

// IsRefused reports whether err is a reference refused by a Policy.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}
