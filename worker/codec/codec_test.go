package codec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

func newKey(t *testing.T) (Key, string) {
	t.Helper()
	raw := make([]byte, KeySize)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	k, err := ParseKey(text)
	if err != nil {
		t.Fatal(err)
	}
	return k, text
}

func payloadOf(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	k, _ := newKey(t)
	c, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	in := []*commonpb.Payload{payloadOf(t, map[string]string{"name": "Customer 42"}), payloadOf(t, "Customer 42")}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range enc {
		if got := string(p.Metadata[converter.MetadataEncoding]); got != Encoding {
			t.Fatalf("encoding %q, want %q", got, Encoding)
		}
		if string(p.Metadata[MetadataKeyID]) != k.ID {
			t.Fatalf("key id %q, want %q", p.Metadata[MetadataKeyID], k.ID)
		}
		if bytes.Contains(p.Data, []byte("Customer 42")) || bytes.Contains(p.Data, []byte("json/plain")) {
			t.Fatal("plaintext visible in the encrypted payload")
		}
	}
	// A fresh nonce per payload: the same value encrypts differently.
	again, _ := c.Encode(in[:1])
	if bytes.Equal(again[0].Data, enc[0].Data) {
		t.Fatal("same ciphertext twice: nonce reused")
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[1], &s); err != nil || s != "Customer 42" {
		t.Fatalf("decoded %q, %v", s, err)
	}
	// Payloads that were never encrypted pass through.
	plain := payloadOf(t, 7)
	out, err := c.Decode([]*commonpb.Payload{plain})
	if err != nil || out[0] != plain {
		t.Fatalf("plain payload: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, _ := newKey(t)
	newK, _ := newKey(t)
	before, _ := New(oldKey)
	enc, err := before.Encode([]*commonpb.Payload{payloadOf(t, "old secret output")})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := New(newK, oldKey)
	if _, err := after.Decode(enc); err != nil {
		t.Fatalf("rotated codec cannot read the old key's payloads: %v", err)
	}
	fresh, _ := after.Encode([]*commonpb.Payload{payloadOf(t, "x")})
	if string(fresh[0].Metadata[MetadataKeyID]) != newK.ID {
		t.Fatal("the first key must encrypt")
	}
}

func TestWrongKeyIsAClearError(t *testing.T) {
	k1, _ := newKey(t)
	k2, _ := newKey(t)
	c1, _ := New(k1)
	c2, _ := New(k2)
	enc, _ := c1.Encode([]*commonpb.Payload{payloadOf(t, "x")})
	_, err := c2.Decode(enc)
	if err == nil || !strings.Contains(err.Error(), "encrypted with key "+k1.ID) || !strings.Contains(err.Error(), k2.ID) {
		t.Fatalf("err = %v", err)
	}
	// Relabelled to a known key, or tampered with: authentication fails.
	enc[0].Metadata[MetadataKeyID] = []byte(k2.ID)
	if _, err := c2.Decode(enc); err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Fatalf("relabelled: err = %v", err)
	}
	enc2, _ := c1.Encode([]*commonpb.Payload{payloadOf(t, "x")})
	enc2[0].Data[len(enc2[0].Data)-1] ^= 1
	if _, err := c1.Decode(enc2); err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Fatalf("tampered: err = %v", err)
	}
	enc2[0].Data = enc2[0].Data[:5]
	if _, err := c1.Decode(enc2); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("short: err = %v", err)
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	want, _ := NewKey(raw)
	for _, text := range []string{
		hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw) + "\n",
		base64.RawURLEncoding.EncodeToString(raw),
	} {
		k, err := ParseKey(text)
		if err != nil || k.ID != want.ID {
			t.Fatalf("ParseKey(%q) = %v, %v", text, k.ID, err)
		}
	}
	for text, msg := range map[string]string{
		"":           "empty",
		"not a key!": "neither 64 hex digits",
		base64.StdEncoding.EncodeToString([]byte("short")): "base64 of 5 bytes",
	} {
		_, err := ParseKey(text)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Fatalf("ParseKey(%q) err = %v, want %q", text, err, msg)
		}
		if text != "" && strings.Contains(err.Error(), text) {
			t.Fatalf("error repeats the key text: %v", err)
		}
	}
}

func TestFromRefs(t *testing.T) {
	_, text1 := newKey(t)
	_, text2 := newKey(t)
	env := map[string]string{"env:K1": text1, "env:K2": text2, "env:BAD": "nope"}
	resolve := func(_ context.Context, ref string) (string, error) {
		v, ok := env[ref]
		if !ok {
			return "", fmt.Errorf("environment variable not set")
		}
		return v, nil
	}
	c, err := FromRefs(context.Background(), resolve, []string{"env:K1", "env:K2", "env:K1"})
	if err != nil || len(c.KeyIDs()) != 2 {
		t.Fatalf("codec %v, %v", c, err)
	}
	if c, err := FromRefs(context.Background(), resolve, nil); c != nil || err != nil {
		t.Fatal("no refs must mean no codec")
	}
	if _, err := FromRefs(context.Background(), resolve, []string{"env:MISSING"}); err == nil || !strings.Contains(err.Error(), "reading payload key env:MISSING") {
		t.Fatalf("err = %v", err)
	}
	if _, err := FromRefs(context.Background(), resolve, []string{"env:BAD"}); err == nil || !strings.Contains(err.Error(), "env:BAD") {
		t.Fatalf("err = %v", err)
	}
}

func TestCodecEndpoint(t *testing.T) {
	k, _ := newKey(t)
	c, _ := New(k)
	srv := httptest.NewServer(Handler(c, ServerOptions{CORSOrigins: []string{"http://localhost:8233"}, Token: "let-me-see", BasicUser: "ops", BasicPassword: "pw"}))
	defer srv.Close()
	enc, _ := c.Encode([]*commonpb.Payload{payloadOf(t, map[string]string{"name": "Customer 42"})})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})

	post := func(auth func(*http.Request)) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		req.Header.Set("Origin", "http://localhost:8233")
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for name, auth := range map[string]func(*http.Request){
		"none":           nil,
		"wrong token":    func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess") },
		"wrong basic":    func(r *http.Request) { r.SetBasicAuth("ops", "guess") },
		"token as basic": func(r *http.Request) { r.SetBasicAuth("let-me-see", "") },
	} {
		resp, text := post(auth)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(text, "Customer 42") {
			t.Fatalf("%s: status %d body %q", name, resp.StatusCode, text)
		}
	}
	for name, auth := range map[string]func(*http.Request){
		"token": func(r *http.Request) { r.Header.Set("Authorization", "Bearer let-me-see") },
		"basic": func(r *http.Request) { r.SetBasicAuth("ops", "pw") },
	} {
		resp, text := post(auth)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", name, resp.StatusCode, text)
		}
		var out commonpb.Payloads
		if err := protojson.Unmarshal([]byte(text), &out); err != nil {
			t.Fatalf("%s: %v in %s", name, err, text)
		}
		var v map[string]string
		if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &v); err != nil || v["name"] != "Customer 42" {
			t.Fatalf("%s: decoded %v, %v", name, v, err)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
			t.Fatalf("%s: CORS header %q", name, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	// The browser's preflight carries no credentials and must pass for the UI's origin only.
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := pre("http://localhost:8233"); r.StatusCode != http.StatusNoContent || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("http://evil.example"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", r.Header)
	}

	// A payload made with another key: the error names that key.
	other, _ := newKey(t)
	oc, _ := New(other)
	enc2, _ := oc.Encode([]*commonpb.Payload{payloadOf(t, "x")})
	body, _ = protojson.Marshal(&commonpb.Payloads{Payloads: enc2})
	resp, text := post(func(r *http.Request) { r.Header.Set("Authorization", "Bearer let-me-see") })
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(text, "encrypted with key "+other.ID) {
		t.Fatalf("wrong key over HTTP: %d %s", resp.StatusCode, text)
	}
}

func TestEndpointWithoutAuthIsOpen(t *testing.T) {
	k, _ := newKey(t)
	c, _ := New(k)
	srv := httptest.NewServer(Handler(c, ServerOptions{}))
	defer srv.Close()
	enc, _ := c.Encode([]*commonpb.Payload{payloadOf(t, "x")})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	resp, err := http.Post(srv.URL+"/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/decode")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET: status %d", resp.StatusCode)
	}
}
