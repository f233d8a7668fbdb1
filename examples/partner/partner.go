// Package partner is a small example partner API for the quickstart and the
// end-to-end tests: customers, orders and acknowledgements, served over TLS
// that requires a client certificate. It counts what it sees so tests can
// check that nothing ran twice.
package partner

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// Partner is the example API. The zero value is not usable; use New.
type Partner struct {
	// Username and Password, when Password is set, are required as basic auth.
	Username, Password string

	mu        sync.Mutex
	acks      map[string]int // idempotency key or order id -> times acknowledged
	seenCerts map[string]int // client certificate subject -> requests
	attempts  map[string]int // flaky key -> attempts
	requests  int
	soap      soaptest.Orders
}

// New returns a partner that requires basic auth with the given credentials
// (no auth when password is empty).
func New(username, password string) *Partner {
	return &Partner{Username: username, Password: password, acks: map[string]int{}, seenCerts: map[string]int{}, attempts: map[string]int{}}
}

// Requests returns how many requests the partner has served.
func (p *Partner) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Acks returns how many times each acknowledgement (by idempotency key, or
// order id when none was sent) was applied.
func (p *Partner) Acks() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.acks))
	for k, v := range p.acks {
		out[k] = v
	}
	return out
}

// Calls returns how many times a flaky or slow key was called ("slow/KEY" for slow ones).
func (p *Partner) Calls(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[key]
}

// ClientCertificates returns the subjects of the client certificates seen.
func (p *Partner) ClientCertificates() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.seenCerts))
	for k, v := range p.seenCerts {
		out[k] = v
	}
	return out
}

// Handler serves the API under /v2.
func (p *Partner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		n, err := strconv.Atoi(id)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("customer %q does not exist", id)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": fmt.Sprintf("Customer %d", n), "tier": []string{"bronze", "silver", "gold"}[n%3]})
	})
	mux.HandleFunc("GET /v2/customers/{id}/orders", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		orders := []map[string]any{}
		for i := 1; i <= 3; i++ {
			orders = append(orders, map[string]any{"id": fmt.Sprintf("%s-%d", id, i), "status": "open", "amount": 10 * i})
		}
		writeJSON(w, http.StatusOK, map[string]any{"customer": id, "orders": orders})
	})
	mux.HandleFunc("POST /v2/orders/{id}/ack", func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			key = r.PathValue("id")
		}
		p.mu.Lock()
		p.acks[key]++
		first := p.acks[key] == 1
		p.mu.Unlock()
		status := http.StatusCreated
		if !first {
			// A replay of the same key is answered, not applied again.
			status = http.StatusOK
		}
		writeJSON(w, status, map[string]any{"order": r.PathValue("id"), "acknowledged": true, "replayed": !first})
	})
	mux.HandleFunc("GET /v2/whoami", func(w http.ResponseWriter, r *http.Request) {
		subject := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			subject = r.TLS.PeerCertificates[0].Subject.String()
		}
		writeJSON(w, http.StatusOK, map[string]any{"client_certificate": subject})
	})
	mux.HandleFunc("GET /v2/flaky/{key}", func(w http.ResponseWriter, r *http.Request) {
		fails, _ := strconv.Atoi(r.URL.Query().Get("fail"))
		p.mu.Lock()
		p.attempts[r.PathValue("key")]++
		n := p.attempts[r.PathValue("key")]
		p.mu.Unlock()
		if n <= fails {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": fmt.Sprintf("temporarily unavailable (attempt %d)", n)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"attempts": n})
	})
	mux.HandleFunc("GET /v2/slow/{key}", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		p.mu.Lock()
		p.attempts["slow/"+r.PathValue("key")]++
		n := p.attempts["slow/"+r.PathValue("key")]
		p.mu.Unlock()
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"key": r.PathValue("key"), "calls": n})
	})
	// A SOAP service over the same mTLS listener and credentials.
	mux.Handle("/v2/soap/orders", &p.soap)
	// Its OpenAPI description, behind the same certificate and credentials.
	serveOpenAPI(mux)
	return p.auth(mux)
}

func (p *Partner) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			p.seenCerts[r.TLS.PeerCertificates[0].Subject.CommonName]++
		}
		p.mu.Unlock()
		if p.Password != "" {
			u, pw, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(p.Username)) != 1 || subtle.ConstantTimeCompare([]byte(pw), []byte(p.Password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="partner"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "invalid username or password"})
				return
			}
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			w.Header().Set("X-Client-Certificate", r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		if !strings.HasPrefix(r.URL.Path, "/v2/") {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "unknown path " + r.URL.Path})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
