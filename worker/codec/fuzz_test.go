package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// fuzzKeys are two fixed keys: the codec's encrypting key and an older one
// it still decrypts with.
func fuzzKeys(f *testing.F) (*AESGCM, Key, Key) {
	k1, err := NewKey(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	k2, err := NewKey(bytes.Repeat([]byte{2}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	c, err := New(k1, k2)
	if err != nil {
		f.Fatal(err)
	}
	return c, k1, k2
}

// FuzzDecode gives Decode payloads a history, a codec endpoint's caller or
// an attacker could hold: any metadata, any data, labelled with a known key,
// an unknown one or none. Decode must not panic; a payload that is not
// marked encrypted passes unchanged; and a marked one either decrypts or
// fails with a message that names no more than the key id.
func FuzzDecode(f *testing.F) {
	c, k1, k2 := fuzzKeys(f)
	plain := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")}, Data: []byte(`{"name":"Customer 42"}`)}
	enc, err := c.Encode([]*commonpb.Payload{plain})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(Encoding), []byte(k1.ID), enc[0].Data)
	f.Add([]byte(Encoding), []byte(k2.ID), enc[0].Data)
	f.Add([]byte(Encoding), []byte("0000000000000000"), enc[0].Data)
	f.Add([]byte(Encoding), []byte(k1.ID), enc[0].Data[:20])
	f.Add([]byte(Encoding), []byte(""), []byte{})
	f.Add([]byte("json/plain"), []byte(""), []byte(`"plain"`))
	f.Add([]byte("binary/null"), []byte(k1.ID), []byte(nil))
	f.Fuzz(func(t *testing.T, encoding, keyID, data []byte) {
		p := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: encoding, MetadataKeyID: keyID}, Data: data}
		out, err := c.Decode([]*commonpb.Payload{p, nil})
		if string(encoding) != Encoding {
			if err != nil || len(out) != 2 || out[0] != p || out[1] != nil {
				t.Fatalf("a payload that is not encrypted was changed: %v, %v", out, err)
			}
			return
		}
		if err != nil {
			if out != nil {
				t.Fatal("payloads and an error")
			}
			// Decoding other data of the same length: an error that holds
			// the data only the first time took it from the payload.
			if len(data) >= 4 && strings.Contains(err.Error(), string(data)) {
				p2 := &commonpb.Payload{Metadata: p.Metadata, Data: bytes.Repeat([]byte{'#'}, len(data))}
				if _, err2 := c.Decode([]*commonpb.Payload{p2}); err2 != nil && !strings.Contains(err2.Error(), string(data)) {
					t.Fatalf("the error repeats the payload: %v", err)
				}
			}
			return
		}
		// Only data sealed under the key it names decrypts: nothing a
		// fuzzer makes up without the key authenticates, so what decrypts
		// is the seed's payload (sealed by whichever process made the seed,
		// with its own nonce) under the key that sealed it.
		if string(keyID) != k1.ID || len(out) != 2 || !proto.Equal(out[0], plain) {
			t.Fatalf("forged payload decrypted: key %q, %x: %v", keyID, data, out)
		}
	})
}

// FuzzRoundTrip encrypts arbitrary payloads: decrypting gives them back
// exactly, the ciphertext holds none of the plaintext, and a payload
// relabelled to the other key or with one byte changed does not decrypt.
func FuzzRoundTrip(f *testing.F) {
	c, k1, k2 := fuzzKeys(f)
	f.Add("json/plain", []byte(`{"steps":{"get":{"json":{"name":"Customer 42"}}}}`), uint16(3))
	f.Add("binary/plain", []byte{0, 1, 2, 255}, uint16(0))
	f.Add("", []byte(nil), uint16(0))
	f.Add("json/protobuf", bytes.Repeat([]byte("Customer 42 "), 400), uint16(4000))
	f.Fuzz(func(t *testing.T, encoding string, data []byte, flip uint16) {
		in := []*commonpb.Payload{{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(encoding)}, Data: data}, {}}
		enc, err := c.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != len(in) || string(enc[0].Metadata[MetadataKeyID]) != k1.ID || string(enc[0].Metadata[converter.MetadataEncoding]) != Encoding {
			t.Fatalf("encoded %v", enc)
		}
		if len(data) >= 16 && bytes.Contains(enc[0].Data, data) {
			t.Fatal("the ciphertext holds the plaintext")
		}
		dec, err := c.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if !proto.Equal(dec[i], in[i]) {
				t.Fatalf("payload %d: %v, want %v", i, dec[i], in[i])
			}
		}
		relabelled := proto.Clone(enc[0]).(*commonpb.Payload)
		relabelled.Metadata[MetadataKeyID] = []byte(k2.ID)
		if _, err := c.Decode([]*commonpb.Payload{relabelled}); err == nil {
			t.Fatal("a payload relabelled to another key decrypted")
		}
		tampered := proto.Clone(enc[0]).(*commonpb.Payload)
		tampered.Data[int(flip)%len(tampered.Data)] ^= 0x20
		if _, err := c.Decode([]*commonpb.Payload{tampered}); err == nil {
			t.Fatal("a changed payload decrypted")
		}
	})
}

// parseKeyError is every message ParseKey may give: none repeats the text
// it was given, which may be a key with a typo.
var parseKeyError = regexp.MustCompile(`^payload key: (empty|base64 of \d+ bytes, want 32 \(generate one with: openssl rand -base64 32\)|neither 64 hex digits nor base64 of 32 bytes \(generate one with: openssl rand -base64 32\)|\d+ bytes, want 32 \(AES-256\))$`)

// FuzzParseKey reads key text: whatever it is, an error is one of the fixed
// messages, and a key it accepts is the one the text encodes.
func FuzzParseKey(f *testing.F) {
	raw := bytes.Repeat([]byte{7}, KeySize)
	f.Add(hex.EncodeToString(raw))
	f.Add(base64.StdEncoding.EncodeToString(raw) + "\n")
	f.Add(base64.RawURLEncoding.EncodeToString(raw))
	f.Add(base64.StdEncoding.EncodeToString(raw[:16]))
	f.Add("not a key at all, but a password someone pasted")
	f.Add("")
	want, err := NewKey(raw)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		k, err := ParseKey(text)
		if err != nil {
			if !parseKeyError.MatchString(err.Error()) {
				t.Fatalf("ParseKey(%q): unexpected message %q", text, err)
			}
			return
		}
		if k.aead == nil || len(k.ID) != 16 {
			t.Fatalf("ParseKey(%q) = %+v", text, k)
		}
		if text == hex.EncodeToString(raw) && k.ID != want.ID {
			t.Fatalf("key id %s, want %s", k.ID, want.ID)
		}
	})
}
