package worker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// EnvGatewayKey holds the key workers sign callback URLs with and the
// gateway checks them with (base64, at least 32 bytes). EnvGatewayURL is
// the gateway's public base URL for flows whose project sets no
// gateway.public_url.
const (
	EnvGatewayKey = "OUTFLOW_GATEWAY_KEY"
	EnvGatewayURL = "OUTFLOW_GATEWAY_URL"
)

// minGatewayKey is the shortest key accepted: an HMAC-SHA256 key.
const minGatewayKey = 32

// ParseGatewayKey reads a gateway key written as base64 (standard or URL
// alphabet).
func ParseGatewayKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("gateway key: not base64")
	}
	if len(key) < minGatewayKey {
		return nil, fmt.Errorf("gateway key: %d bytes, want at least %d (openssl rand -base64 32)", len(key), minGatewayKey)
	}
	return key, nil
}

// GatewayKeyFromEnv returns the key in OUTFLOW_GATEWAY_KEY, nil when unset.
func GatewayKeyFromEnv() ([]byte, error) {
	v := os.Getenv(EnvGatewayKey)
	if v == "" {
		return nil, nil
	}
	key, err := ParseGatewayKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvGatewayKey, err)
	}
	return key, nil
}

// CallbackSignerFromEnv is the signer of a worker: OUTFLOW_GATEWAY_KEY
// and OUTFLOW_GATEWAY_URL; nil without a key (callback_url then fails
// with a message saying so).
func CallbackSignerFromEnv() (*engine.CallbackSigner, error) {
	key, err := GatewayKeyFromEnv()
	if err != nil || key == nil {
		return nil, err
	}
	return &engine.CallbackSigner{Key: key, BaseURL: os.Getenv(EnvGatewayURL)}, nil
}

// DevGatewayKey returns the key kept in file, making it (0600) the first
// time: outflow dev keeps its state across restarts, and the callback URLs
// of flows waiting in it must keep working.
func DevGatewayKey(file string) ([]byte, error) {
	if key, err := GatewayKeyFromEnv(); err != nil || key != nil {
		return key, err
	}
	if b, err := os.ReadFile(file); err == nil {
		return ParseGatewayKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading gateway key: %w", err)
	}
	key := make([]byte, minGatewayKey)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing gateway key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// GatewaySecrets is the resolver of the gateway's auth blocks: env: and
// file: references under dir, except the process's own (the gateway key,
// the payload key, the Temporal client certificate). Values it resolves
// are redacted from the logs of seen.
func GatewaySecrets(dir string, seen *secrets.Seen) (*secrets.Resolver, error) {
	res, err := defaultSecrets(dir, nil)
	if err != nil {
		return nil, err
	}
	if seen != nil {
		res.Watch(seen)
	}
	return res, nil
}
