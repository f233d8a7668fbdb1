// Package codec encrypts Temporal payloads with AES-256-GCM, so that step
// output, inputs and execution records are stored encrypted in Temporal's
// history and visible only to processes (workers, the CLI, a codec server
// for the Temporal Web UI) that hold a key.
package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding is the metadata encoding of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key a payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher ("AES-256-GCM").
	MetadataCipher = "encryption-cipher"
	cipherName     = "AES-256-GCM"
	// KeySize is the length of a key in bytes.
	KeySize = 32
)

// Key is one AES-256 key and its id. The id is derived from the key (a
// truncated SHA-256 under a fixed label), so a payload says which key opens
// it without configuration, and the id reveals nothing about the key.
type Key struct {
	ID   string
	aead cipher.AEAD
}

// NewKey makes a Key of 32 raw bytes.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("payload key: %d bytes, want %d (AES-256)", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, fmt.Errorf("payload key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("payload key: %w", err)
	}
	sum := sha256.Sum256(append([]byte("outflow payload key id\x00"), raw...))
	return Key{ID: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ParseKey decodes a key written as 64 hex digits or as base64 (standard or
// URL alphabet, padded or not) of 32 bytes. Surrounding white space is
// ignored. Errors never repeat the text given.
func ParseKey(text string) (Key, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return Key{}, errors.New("payload key: empty")
	}
	if len(s) == 2*KeySize {
		if raw, err := hex.DecodeString(s); err == nil {
			return NewKey(raw)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != KeySize {
				return Key{}, fmt.Errorf("payload key: base64 of %d bytes, want %d (generate one with: openssl rand -base64 32)", len(raw), KeySize)
			}
			return NewKey(raw)
		}
	}
	return Key{}, fmt.Errorf("payload key: neither 64 hex digits nor base64 of %d bytes (generate one with: openssl rand -base64 32)", KeySize)
}

// AESGCM is a converter.PayloadCodec that encrypts every payload with its
// first key, a fresh random nonce per payload, and decrypts payloads made
// with any of its keys, so keys can be rotated: put the new key first and
// keep the old ones while histories encrypted with them are read. Payloads
// that are not encrypted pass through Decode unchanged. It is safe for
// concurrent use.
type AESGCM struct {
	keys []Key
	byID map[string]Key
}

// New returns a codec with keys; the first encrypts.
func New(keys ...Key) (*AESGCM, error) {
	if len(keys) == 0 {
		return nil, errors.New("payload codec: no key")
	}
	c := &AESGCM{keys: keys, byID: map[string]Key{}}
	for _, k := range keys {
		if k.aead == nil {
			return nil, errors.New("payload codec: key not made with NewKey or ParseKey")
		}
		c.byID[k.ID] = k
	}
	return c, nil
}

// KeyIDs returns the ids of the codec's keys, the encrypting one first.
func (c *AESGCM) KeyIDs() []string {
	ids := make([]string, len(c.keys))
	for i, k := range c.keys {
		ids[i] = k.ID
	}
	return ids
}

// Encode encrypts each payload, metadata included.
func (c *AESGCM) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypting payload: %w", err)
		}
		nonce := make([]byte, k.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypting payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(k.ID),
				MetadataCipher:             []byte(cipherName),
			},
			// The key id is authenticated with the data: a payload cannot be
			// relabelled to another key.
			Data: k.aead.Seal(nonce, nonce, plain, []byte(k.ID)),
		}
	}
	return out, nil
}

// Decode decrypts the encrypted payloads and leaves the others as they are.
func (c *AESGCM) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.Metadata[MetadataKeyID])
		k, ok := c.byID[id]
		if !ok {
			return nil, fmt.Errorf("decrypting payload: it was encrypted with key %s, which is not among this process's payload keys (%s); "+
				"give that key too (--payload-key may be repeated)", quoteID(id), strings.Join(c.KeyIDs(), ", "))
		}
		ns := k.aead.NonceSize()
		if len(p.Data) < ns+k.aead.Overhead() {
			return nil, fmt.Errorf("decrypting payload with key %s: %d bytes is too short to be an encrypted payload", id, len(p.Data))
		}
		plain, err := k.aead.Open(nil, p.Data[:ns], p.Data[ns:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypting payload with key %s: the payload does not authenticate (corrupted, or not made with this key)", id)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("decrypting payload with key %s: %w", id, err)
		}
		out[i] = &dec
	}
	return out, nil
}

func quoteID(id string) string {
	if id == "" {
		return "(none named)"
	}
	return id
}

// DataConverter returns Temporal's default data converter with c applied to
// every payload.
func (c *AESGCM) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter returns a failure converter that encodes with c: see
// FailureConverter.
func (c *AESGCM) FailureConverter() converter.FailureConverter {
	return FailureConverter(c.DataConverter())
}

// FailureConverter returns Temporal's default failure converter set to
// encode with dc: the details of a failure (a failed step's result, a
// failed flow's execution record) and its common attributes, the message
// and the stack trace, which Temporal otherwise stores as they are. The
// stored failure says only "Encoded failure"; a process with dc reads the
// message back. Use it wherever dc is the data converter of a Temporal
// client, so that failed executions are as encrypted as successful ones.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}

// Resolve is how a key reference is turned into key text: a secrets
// resolver's Resolve.
type Resolve func(ctx context.Context, ref string) (string, error)

// FromRefs resolves secret references ("env:OUTFLOW_PAYLOAD_KEY",
// "file:/run/secrets/payload-key", "vault:…") to keys and returns a codec;
// the first reference's key encrypts. No references gives nil, nil:
// encryption is off.
func FromRefs(ctx context.Context, resolve Resolve, refs []string) (*AESGCM, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	keys := make([]Key, 0, len(refs))
	seen := map[string]bool{}
	for _, ref := range refs {
		text, err := resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("reading payload key %s: %w", ref, err)
		}
		k, err := ParseKey(text)
		if err != nil {
			return nil, fmt.Errorf("reading payload key %s: %w", ref, err)
		}
		if seen[k.ID] {
			continue
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	return New(keys...)
}

var _ converter.PayloadCodec = (*AESGCM)(nil)
