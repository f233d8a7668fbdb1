package oauth2

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// claims are the parts of a JWT access token the client reads. The client
// does not verify the token's signature: it is for the API to verify, and
// the client only uses the claims to know when the token expires and which
// certificate it is bound to.
type claims struct {
	Exp float64 `json:"exp"`
	Cnf struct {
		X5tS256 string `json:"x5t#S256"`
	} `json:"cnf"`
}

// jwtClaims reads the claims of a token that is a JWS compact
// serialization; ok is false for an opaque token.
func jwtClaims(token string) (c claims, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, false
	}
	if json.Unmarshal(payload, &c) != nil {
		return claims{}, false
	}
	return c, true
}

// assertionLifetime is how long a private_key_jwt client assertion is
// valid: one token request.
const assertionLifetime = time.Minute

// clientAssertion makes the JWT a client authenticates with under
// private_key_jwt (RFC 7523 §2.2, §3): issuer and subject the client id,
// audience the token endpoint, a unique jti and a short life.
func clientAssertion(key *tls.Certificate, clientID, tokenURL, keyID string, now time.Time) (string, error) {
	signer, ok := key.PrivateKey.(crypto.Signer)
	if !ok || signer == nil {
		return "", errors.New("the keystore entry has no private key that can sign")
	}
	alg, hash, err := jwsAlgorithm(signer)
	if err != nil {
		return "", err
	}
	header := map[string]any{"alg": alg, "typ": "JWT"}
	if keyID != "" {
		header["kid"] = keyID
	}
	if key.Leaf != nil {
		header["x5t#S256"] = Thumbprint(key.Leaf)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	payload := map[string]any{
		"iss": clientID, "sub": clientID, "aud": tokenURL,
		"jti": hex.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(assertionLifetime).Unix(),
	}
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sig, err := signJWS(signer, hash, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwsAlgorithm picks the JWS algorithm (RFC 7518) for a key.
func jwsAlgorithm(s crypto.Signer) (alg string, hash crypto.Hash, err error) {
	switch k := s.Public().(type) {
	case *rsa.PublicKey:
		return "RS256", crypto.SHA256, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return "ES256", crypto.SHA256, nil
		case 384:
			return "ES384", crypto.SHA384, nil
		case 521:
			return "ES512", crypto.SHA512, nil
		}
		return "", 0, fmt.Errorf("ECDSA curve %s has no JWS algorithm", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "EdDSA", 0, nil
	}
	return "", 0, fmt.Errorf("a %T key cannot sign a client assertion; use RSA, ECDSA or Ed25519", s.Public())
}

// signJWS signs input; an ECDSA signature is written as R||S, each padded
// to the curve's size (RFC 7518 §3.4), not as ASN.1.
func signJWS(s crypto.Signer, hash crypto.Hash, input []byte) ([]byte, error) {
	if hash == 0 {
		return s.Sign(rand.Reader, input, crypto.Hash(0))
	}
	digest := hashOf(hash, input)
	sig, err := s.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, err
	}
	if k, ok := s.Public().(*ecdsa.PublicKey); ok {
		var parsed struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &parsed); err != nil {
			return nil, fmt.Errorf("reading the ECDSA signature: %w", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		parsed.R.FillBytes(out[:size])
		parsed.S.FillBytes(out[size:])
		return out, nil
	}
	return sig, nil
}

func hashOf(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA384:
		s := sha512.Sum384(b)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	s := sha256.Sum256(b)
	return s[:]
}
