//go:build !cgo

package hsm

import (
	"crypto"
	"crypto/x509"
	"io"
)

// Supported reports whether this binary can use PKCS#11 modules: not this
// one, built with CGO_ENABLED=0.
func Supported() bool { return false }

func unsupported(cfg Config) error {
	return errorf(CodeUnsupported, nil, "%s cannot be used by this outflow binary: it was built with CGO_ENABLED=0 (as the static worker image is), "+
		"and PKCS#11 modules are C libraries. Run the steps of this profile on a worker built with cgo: the ordinary `go build ./cmd/outflow` "+
		"on Linux, or an image built with CGO_ENABLED=1 (see docs/mtls.md)", cfg)
}

// Key is a private key in a token; this build cannot open one.
type Key struct{}

// Open fails: this binary has no PKCS#11 support.
func Open(cfg Config) (*Key, error) { return nil, unsupported(cfg) }

// Inspect fails: this binary has no PKCS#11 support.
func Inspect(cfg Config) (*TokenReport, error) { return nil, unsupported(cfg) }

func (k *Key) Public() crypto.PublicKey { return nil }
func (k *Key) String() string           { return "" }
func (k *Key) Signatures() int64        { return 0 }

func (k *Key) Bind(*x509.Certificate) (crypto.Signer, error) { return nil, unsupported(Config{}) }

func (k *Key) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, unsupported(Config{})
}
