// Package doccache fetches the documents that describe a partner's API —
// WSDLs for SOAP steps, OpenAPI documents for REST steps — when a project
// names them by URL. It fetches through the connection itself: its
// protocol profile's transport, so the partner sees the same client
// certificate as the steps' calls, and its credential (an OAuth 2.0 token
// included). Every document fetched is kept in a cache folder with where
// and when it came from, and read from there the next time, so a project
// loads the same document on every run, without the network, until it is
// fetched again. What differs between the two kinds of document — names,
// what to accept, how large, which URLs — is a Kind.
package doccache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Kind is one kind of document a Fetcher fetches.
type Kind struct {
	// Noun names the document in messages: "WSDL", "OpenAPI document".
	Noun string
	// Accept is the request's Accept header.
	Accept string
	// MaxSize is the largest document read, in bytes.
	MaxSize int64
	// CheckURL refuses a URL the connection may not be used for.
	CheckURL func(rawURL string, conn *engine.Connection) error
	// CacheName and MetaName are the names of the cached document and of
	// the metadata file beside it, inside the cache folder.
	CacheName, MetaName func(rawURL string) string
	// Refuse says what is wrong with a body that cannot be such a document
	// ("is not XML"), or "" when it may be one.
	Refuse func(body []byte) string
}

// Fetcher fetches documents of one Kind given by URL (and the documents
// they import or reference) through a connection. It is safe for
// concurrent use.
type Fetcher struct {
	Kind Kind
	// Transports gives the connection's transport (steps.Transports).
	Transports httpcall.Transports
	// Secrets resolves the connection's credential.
	Secrets *secrets.Resolver
	// BaseDir is the project folder, against which keystore paths resolve.
	BaseDir string
	// Dir is the cache folder; empty means no cache on disk.
	Dir string
	// Refresh fetches every document again, replacing the cached copy.
	Refresh bool
	// Timeout bounds each fetch; 30 s when zero.
	Timeout time.Duration

	mu      sync.Mutex
	fetched map[string][]byte // this process's fetches, by URL
}

// cacheEntry is the metadata kept beside a cached document.
type cacheEntry struct {
	URL         string    `json:"url"`
	Connection  string    `json:"connection"`
	FetchedAt   time.Time `json:"fetched_at"`
	Size        int       `json:"size"`
	ContentType string    `json:"content_type,omitempty"`
}

// Cached is one document in a cache folder.
type Cached struct {
	URL        string
	Connection string
	FetchedAt  time.Time
	Size       int
	File       string
}

// Fetch returns the document at rawURL, from the cache when it holds it
// (and Refresh is off), otherwise over the connection.
func (f *Fetcher) Fetch(ctx context.Context, conn *engine.Connection, profile *engine.ProtocolProfile, rawURL string) ([]byte, error) {
	f.mu.Lock()
	if data, ok := f.fetched[rawURL]; ok {
		f.mu.Unlock()
		return data, nil
	}
	f.mu.Unlock()
	if !f.Refresh && f.Dir != "" {
		if data, err := os.ReadFile(filepath.Join(f.Dir, f.Kind.CacheName(rawURL))); err == nil {
			f.remember(rawURL, data)
			return data, nil
		}
	}
	// The partner's words in a failure never carry the credential sent.
	red := f.Secrets.NewRedactor()
	data, ct, err := f.get(secrets.WithRedactor(ctx, red), conn, profile, rawURL)
	if err != nil {
		return nil, red.Error(err)
	}
	if f.Dir != "" {
		if err := f.store(conn, rawURL, data, ct); err != nil {
			return nil, fmt.Errorf("keeping the %s fetched from %s: %w", f.Kind.Noun, rawURL, err)
		}
	}
	f.remember(rawURL, data)
	return data, nil
}

func (f *Fetcher) remember(u string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetched == nil {
		f.fetched = map[string][]byte{}
	}
	f.fetched[u] = data
}

// get fetches one document over the connection, and returns it with its
// content type.
func (f *Fetcher) get(ctx context.Context, conn *engine.Connection, profile *engine.ProtocolProfile, rawURL string) ([]byte, string, error) {
	noun := f.Kind.Noun
	if err := f.Kind.CheckURL(rawURL, conn); err != nil {
		return nil, "", err
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("fetching the %s: %w", noun, err)
	}
	req.Header.Set("Accept", f.Kind.Accept)
	// The connection's credential, an OAuth 2.0 token included, as a step
	// would send it.
	authz := &httpcall.Authorizer{Secrets: f.Secrets, Transports: f.Transports, BaseDir: f.BaseDir, Connection: conn, Profile: profile}
	if err := authz.Apply(ctx, req); err != nil {
		return nil, "", fmt.Errorf("fetching the %s %s through connection %s: %w", noun, rawURL, conn.Name, err)
	}
	what := "GET " + rawURL
	ex, err := authz.Do(ctx, req, f.Kind.MaxSize, what)
	if err != nil {
		return nil, "", fmt.Errorf("fetching the %s through connection %s: %w", noun, conn.Name, err)
	}
	resp := ex.Response
	ct := resp.Header.Get("Content-Type")
	if loc, err := resp.Location(); err == nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Do sends with RoundTrip, which follows no redirect: the
		// credential and client certificate stay with the connection.
		loc.User, loc.RawQuery, loc.ForceQuery, loc.Fragment = nil, "", false, ""
		return nil, "", fmt.Errorf("fetching the %s: %s answered %s: redirect to %s not followed (the request carries the connection's credential); give the document's own URL",
			noun, what, resp.Status, loc)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetching the %s: %s answered %s%s", noun, what, resp.Status, partnerWords(ex.Data))
	}
	if ex.Truncated {
		return nil, "", fmt.Errorf("fetching the %s: %s is larger than %d MiB", noun, rawURL, f.Kind.MaxSize>>20)
	}
	if why := f.Kind.Refuse(ex.Data); why != "" {
		body := "a body"
		if ct != "" {
			body = "content type " + ct
		}
		return nil, "", fmt.Errorf("fetching the %s: %s answered with %s that %s%s", noun, what, body, why, partnerWords(ex.Data))
	}
	return ex.Data, ct, nil
}

// StartsLikeMarkup reports a body that starts like XML or HTML (after a
// byte order mark and white space).
func StartsLikeMarkup(b []byte) bool {
	s := strings.TrimLeft(string(b[:min(len(b), 512)]), "\ufeff \t\r\n")
	return strings.HasPrefix(s, "<")
}

// partnerWords is the partner's answer, for the end of an error message.
func partnerWords(b []byte) string {
	if w := httpcall.PartnerWords(b); w != "" {
		return ": " + w
	}
	return ""
}

func (f *Fetcher) store(conn *engine.Connection, u string, data []byte, ct string) error {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(f.Dir, f.Kind.CacheName(u)), data); err != nil {
		return err
	}
	meta, _ := json.MarshalIndent(cacheEntry{URL: u, Connection: conn.Name, FetchedAt: time.Now().UTC(), Size: len(data), ContentType: ct}, "", "  ")
	return writeAtomic(filepath.Join(f.Dir, f.Kind.MetaName(u)), meta)
}

func writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".fetch-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// List lists the documents of kind k in the cache folder dir: one for each
// metadata file (NAME.json, as MetaName names them).
func List(dir string, k Kind) ([]Cached, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Cached
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var m cacheEntry
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		// The document is the file beside the metadata, whatever URL the
		// metadata claims.
		out = append(out, Cached{URL: m.URL, Connection: m.Connection, FetchedAt: m.FetchedAt, Size: m.Size,
			File: filepath.Join(dir, strings.TrimSuffix(e.Name(), ".json")+filepath.Ext(k.CacheName("")))})
	}
	return out, nil
}
