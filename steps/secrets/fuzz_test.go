package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// storeAnswer answers every request with one canned response, without a
// network: a fuzz target tries thousands of answers a second, which a
// loopback server cannot serve. The tests of vault.go and cyberark.go talk
// to httptest servers; this fuzzes what the providers make of an answer.
type storeAnswer struct {
	status int
	body   []byte
	hosts  []string // the hosts asked, in order
}

func (a *storeAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	a.hosts = append(a.hosts, r.URL.Host)
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: r}, nil
}

// withSecretsReplaced rewrites the answer's secret values — the fields of
// a KV secret under data.data, or the properties of a CyberArk account —
// into other values of the same kind, keeping every name; ok is false when
// the answer holds no such values.
func withSecretsReplaced(body []byte, vault bool) ([]byte, bool) {
	var top map[string]any
	if json.Unmarshal(body, &top) != nil || top == nil {
		return nil, false
	}
	values := top
	if vault {
		d, _ := top["data"].(map[string]any)
		values, _ = d["data"].(map[string]any)
	}
	if len(values) == 0 {
		return nil, false
	}
	i := 0
	for k, v := range values {
		i++
		switch x := v.(type) {
		case string:
			values[k] = fmt.Sprintf("~replaced secret %d~", i)
		case float64:
			values[k] = float64(1000003 + i)
		case bool:
			values[k] = !x
		case map[string]any, []any:
			values[k] = []any{fmt.Sprintf("~replaced secret %d~", i)}
		}
	}
	b, err := json.Marshal(top)
	return b, err == nil
}

// FuzzVaultAnswer gives the Vault provider any answer to a KV v2 read, for
// any reference: it returns the field the reference names, as the answer
// holds it, or an error; an error is the same whatever the secret values
// are (so none of them can be in it) and is UTF-8, as a step's failure
// message must be; and only Vault's own host is asked.
func FuzzVaultAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		ref    string
	}{
		{200, `{"data":{"data":{"password":"pa55-w0rd","user":"svc"},"metadata":{"version":3}}}`, "secret/data/partner#password"},
		{200, `{"data":{"data":{"keystore":"MIIKCQIBAzCCCc8GCSqGSIb3DQEHAaCCCcAEggm8"}}}`, "secret/partner"},
		{200, `{"data":{"data":{"n":42,"on":true,"obj":{"a":[1]}}}}`, "team/kv/app#obj"},
		{200, `{"data":{"data":null,"metadata":{"deletion_time":"2024-01-01T00:00:00Z"}}}`, "secret/x#y"},
		{200, `{"data":{"data":{"a":"1","b":"2"}}}`, "secret/x"},
		{200, `{"data":{"data":{"a":"1"}}}`, "secret/x#missing"},
		{200, `{"request_id":"r","data":{"keys":["a"]}}`, "kv1/x#a"},
		{404, `{"data":{"metadata":{"destroyed":true}}}`, "secret/x#a"},
		{404, `{"errors":[]}`, "secret/nothing#a"},
		{403, `{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`, "secret/x#a"},
		{500, `<html>internal error</html>`, "secret/x#a"},
		{503, `{"errors":["Vault is sealed"]}`, "secret//x#"},
		{307, ``, "secret/x#a"},
	} {
		f.Add(s.status, []byte(s.body), s.ref)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, ref string) {
		if status < 200 || status > 599 || !utf8.ValidString(ref) {
			return // references are text of a YAML file
		}
		resolve := func(body []byte) (string, *storeAnswer, error) {
			a := &storeAnswer{status: status, body: body}
			v, err := NewVault(VaultOptions{Address: "https://vault.internal:8200", Mounts: []string{"team/kv"},
				Token: func(context.Context) (string, error) { return "root-token-9a7e", nil }, Client: &http.Client{Transport: a}})
			if err != nil {
				t.Fatal(err)
			}
			s, err := v.Resolve(context.Background(), ref)
			return s, a, err
		}
		got, a, err := resolve(body)
		for _, h := range a.hosts {
			if h != "vault.internal:8200" {
				t.Fatalf("asked %s", h)
			}
		}
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not UTF-8: %q", err)
			}
		} else {
			// The value is the named field of data.data, a string as it is
			// and anything else as its JSON.
			r, perr := parseVaultRef(ref, []string{"team/kv"})
			var out struct {
				Data struct {
					Data map[string]json.RawMessage `json:"data"`
				} `json:"data"`
			}
			if perr != nil || status != 200 || json.Unmarshal(body, &out) != nil {
				t.Fatalf("Resolve(%q) = %q from a %d answer %q", ref, got, status, body)
			}
			field := r.field
			if field == "" {
				for k := range out.Data.Data {
					field = k
				}
			}
			raw, ok := out.Data.Data[field]
			var want string
			if json.Unmarshal(raw, &want) != nil {
				want = string(raw)
			}
			if !ok || got != want {
				t.Fatalf("Resolve(%q) = %q, the answer's field %q holds %s", ref, got, field, raw)
			}
		}
		other, ok := withSecretsReplaced(body, true)
		if !ok || status != 200 {
			return
		}
		got2, _, err2 := resolve(other)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("the outcome depends on the secret values:\n%s: %q, %v\n%s: %q, %v", body, got, err, other, got2, err2)
		}
		if err == nil && got == got2 && got != "" {
			t.Fatalf("the value %q does not come from the answer", got)
		}
	})
}

// FuzzCyberArkAnswer gives the CyberArk provider any answer from the
// Central Credential Provider: it returns the property the reference names
// (the password, Content, by default), matched without regard to case and
// the same on every call, or an error that is the same whatever the
// account's values are and is UTF-8.
func FuzzCyberArkAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		ref    string
	}{
		{200, `{"Content":"pa55-w0rd","UserName":"svc-outflow","Address":"partner.example","Safe":"Partners","Folder":"Root","Name":"partner-api","PolicyID":"Generic","CreationMethod":"PVWA"}`, "Partners/partner-api"},
		{200, `{"Content":"x","UserName":"svc"}`, "Partners/partner-api#username"},
		{200, `{"Content":"x","content":"y"}`, "Partners/a/b/c"},
		{200, `{"Content":{"nested":[1,2]},"Port":443}`, "Partners/p#Port"},
		{200, `{"UserName":"svc"}`, "Partners/p"},
		{200, `[]`, "Partners/p"},
		{404, `{"ErrorCode":"APPAP004E","ErrorMsg":"Password object matching query [Safe=Partners;Folder=Root;Object=x] was not found (Diagnostic Info: 5)."}`, "Partners/x"},
		{403, `{"ErrorCode":"APPAP306E","ErrorMsg":"Authentication failure for User [outflow]."}`, "Partners/x"},
		{500, `{"ErrorCode":"AIMWS031E","ErrorMsg":"Failed to get password"}`, "Partners/x#"},
		{401, `not json`, "/x"},
	} {
		f.Add(s.status, []byte(s.body), s.ref)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, ref string) {
		if status < 200 || status > 599 || !utf8.ValidString(ref) {
			return // references are text of a YAML file
		}
		resolve := func(body []byte) (string, error) {
			c, err := NewCyberArk(CyberArkOptions{URL: "https://ccp.internal", AppID: "outflow", Client: &http.Client{Transport: &storeAnswer{status: status, body: body}}})
			if err != nil {
				t.Fatal(err)
			}
			return c.Resolve(context.Background(), ref)
		}
		got, err := resolve(body)
		if err != nil && !utf8.ValidString(err.Error()) {
			t.Fatalf("error is not UTF-8: %q", err)
		}
		if err == nil {
			_, _, property, perr := parseCyberArkRef(ref)
			var account map[string]any
			if perr != nil || status != 200 || json.Unmarshal(body, &account) != nil {
				t.Fatalf("Resolve(%q) = %q from a %d answer %q", ref, got, status, body)
			}
			found := false
			for k, v := range account {
				if !strings.EqualFold(k, property) {
					continue
				}
				want, isString := v.(string)
				if !isString {
					b, _ := json.Marshal(v)
					want = string(b)
				}
				found = found || got == want
			}
			if !found {
				t.Fatalf("Resolve(%q) = %q, not the account's %s", ref, got, property)
			}
		}
		for i := 0; i < 16; i++ { // map order differs from call to call
			again, err2 := resolve(body)
			if again != got || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Fatalf("the same answer read twice gives %q, %v and %q, %v", got, err, again, err2)
			}
		}
		other, ok := withSecretsReplaced(body, false)
		if !ok || status != 200 {
			return
		}
		got2, err2 := resolve(other)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("the outcome depends on the account's values:\n%s: %q, %v\n%s: %q, %v", body, got, err, other, got2, err2)
		}
	})
}
