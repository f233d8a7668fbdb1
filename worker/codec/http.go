package codec

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec endpoint.
type ServerOptions struct {
	// CORSOrigins are the browser origins allowed to call the endpoint (the
	// Temporal Web UI's address, such as http://localhost:8233). Empty means
	// no cross-origin access; "*" allows any origin.
	CORSOrigins []string
	// Token, when set, must be presented as "Authorization: Bearer TOKEN".
	Token string
	// BasicUser and BasicPassword, when set, are accepted as HTTP basic
	// authentication. With neither Token nor BasicUser, anyone who can reach
	// the endpoint can decode.
	BasicUser, BasicPassword string
}

// Handler returns the codec endpoint the Temporal Web UI (and `temporal
// --codec-endpoint`) calls: POST …/decode and …/encode with a JSON list of
// payloads. Requests without the configured credentials get 401 and learn
// nothing; CORS preflights are answered for the allowed origins.
func Handler(c converter.PayloadCodec, o ServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && allowedOrigin(o.CORSOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Namespace")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if !authorized(r, o) {
			if o.BasicUser != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="outflow codec"`)
			}
			http.Error(w, "unauthorized: this codec endpoint needs credentials", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || !(strings.HasSuffix(r.URL.Path, "/decode") || strings.HasSuffix(r.URL.Path, "/encode")) {
			http.Error(w, "not found: POST …/decode or …/encode", http.StatusNotFound)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
		inner.ServeHTTP(w, r)
	})
}

func allowedOrigin(allowed []string, origin string) bool {
	return slices.Contains(allowed, "*") || slices.Contains(allowed, origin)
}

func authorized(r *http.Request, o ServerOptions) bool {
	if o.Token == "" && o.BasicUser == "" {
		return true
	}
	if o.Token != "" {
		if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(got, o.Token) {
			return true
		}
	}
	if o.BasicUser != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, o.BasicUser) && equal(p, o.BasicPassword) {
			return true
		}
	}
	return false
}

// equal compares in constant time whatever the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
