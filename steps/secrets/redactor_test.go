package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactorForms(t *testing.T) {
	const secret = `pw/"<&>+ é`
	red := NewRedactor(nil)
	red.Add(secret)
	for _, tc := range []struct{ in, want string }{
		{"plain " + secret + " end", "plain [redacted] end"},
		{"query api_key=pw%2F%22%3C%26%3E%2B+%C3%A9&x=1", "query api_key=[redacted]&x=1"},
		{"path /pw%2F%22%3C&%3E+%20%C3%A9/x", "path /[redacted]/x"},
		{"<f>pw/&#34;&lt;&amp;&gt;+ é</f>", "<f>[redacted]</f>"},
		{`{"v":"pw/\"\u003c\u0026\u003e+ é"}`, `{"v":"[redacted]"}`},
		{`{"v":"pw/\"<&>+ é"}`, `{"v":"[redacted]"}`},
		{`{"v":"pw\/\"<&>+ \u00e9"}`, `{"v":"[redacted]"}`},
		{"lower api_key=pw%2f%22%3c%26%3e%2b+%c3%a9", "lower api_key=[redacted]"},
		{"nothing here", "nothing here"},
	} {
		if got := red.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorBasicAndShortSecrets(t *testing.T) {
	red := NewRedactor(nil)
	red.AddBasic("svc-outflow", "abc") // a password too short on its own
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:abc"))
	if got := red.String("refused: Basic " + basic + " (abc)"); got != "refused: Basic [redacted] (abc)" {
		t.Fatalf("got %q: the base64 form must be redacted, the 3-character password alone must not", got)
	}
	// A short secret resolved through a Resolver is named, not redacted.
	t.Setenv("REDACTOR_TEST_SHORT", "1234")
	t.Setenv("REDACTOR_TEST_LONG", "long-enough-secret")
	ctx := WithRedactor(context.Background(), red)
	r := New("")
	for _, ref := range []string{"env:REDACTOR_TEST_SHORT", "env:REDACTOR_TEST_LONG"} {
		if _, err := r.Resolve(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if got := red.Short(); len(got) != 1 || got[0] != "env:REDACTOR_TEST_SHORT" {
		t.Fatalf("Short() = %v", got)
	}
	if got := red.String("order 12345 by long-enough-secret"); got != "order 12345 by [redacted]" {
		t.Fatalf("got %q", got)
	}
}

func TestRedactorOverlapsAndCuts(t *testing.T) {
	red := NewRedactor(nil)
	red.Add("abcdef-secret", "secret-uvwxyz")
	if got := red.String("x abcdef-secret-uvwxyz y"); got != "x [redacted] y" {
		t.Errorf("overlap: %q", got)
	}
	if got := red.String("xx abcdef-secret abcdef-secret"); got != "xx [redacted] [redacted]" {
		t.Errorf("repeats: %q", got)
	}
	// A text cut short with "…" after the first half of a secret.
	if got := red.String("partner said: abcdef-se…"); got != "partner said: [redacted]…" {
		t.Errorf("cut with a mark: %q", got)
	}
	// A body cut at its limit, without a mark.
	if got := red.Cut("body ends in abcd"); got != "body ends in [redacted]" {
		t.Errorf("cut: %q", got)
	}
	// Two characters say too little to be taken for a secret.
	if got := red.Cut("body ends in ab"); got != "body ends in ab" {
		t.Errorf("cut, two characters: %q", got)
	}
	if got := red.String("ends in abcd"); got != "ends in abcd" {
		t.Errorf("an uncut text lost its end: %q", got)
	}
	var nilRed *Redactor
	nilRed.Add("whatever-secret")
	if nilRed.String("whatever-secret") != "whatever-secret" || !nilRed.Empty() || nilRed.Short() != nil {
		t.Error("a nil Redactor redacts nothing")
	}
}

type fault struct {
	Code   string
	String string
	Detail any
	hidden string
}

func TestRedactorTrees(t *testing.T) {
	red := NewRedactor(nil)
	red.Add("tok-0123456789", "98765432")
	var tree any
	if err := json.Unmarshal([]byte(`{"headers":{"Authorization":"Bearer tok-0123456789","tok-0123456789":"as a key"},
		"list":["a","tok-0123456789",98765432,1.5,true,null],"pin":98765432,"n":7}`), &tree); err != nil {
		t.Fatal(err)
	}
	got := red.Value(tree)
	b, _ := json.Marshal(got)
	want := `{"headers":{"Authorization":"Bearer [redacted]","[redacted]":"as a key"},"list":["a","[redacted]","[redacted]",1.5,true,null],"n":7,"pin":"[redacted]"}`
	if string(b) != want {
		t.Fatalf("tree:\n%s\nwant\n%s", b, want)
	}
	f := &fault{Code: "Client", String: "bad token tok-0123456789", Detail: map[string]any{"echo": "tok-0123456789"}, hidden: "tok-0123456789"}
	red.Value(map[string]any{"Fault": f})
	if f.String != "bad token [redacted]" || f.Detail.(map[string]any)["echo"] != "[redacted]" || f.Code != "Client" {
		t.Fatalf("struct in a tree: %+v", f)
	}
	// Values of other types are redacted as the JSON they become.
	type other struct{ V string }
	if got := red.Value(other{V: "tok-0123456789"}); fmt.Sprint(got) != "map[V:[redacted]]" {
		t.Fatalf("other: %v", got)
	}
	if got := red.Value([]string{"x", "tok-0123456789"}); fmt.Sprint(got) != "[x [redacted]]" {
		t.Fatalf("[]string: %v", got)
	}
}

func TestRedactorError(t *testing.T) {
	red := NewRedactor(nil)
	red.Add("tok-0123456789")
	base := &Error{Ref: "env:X", Err: errors.New("boom")}
	err := fmt.Errorf("partner said tok-0123456789: %w", base)
	got := red.Error(err)
	var se *Error
	if got.Error() != "partner said [redacted]: resolving secret \"env:X\": boom" || !errors.As(got, &se) {
		t.Fatalf("got %v", got)
	}
	clean := errors.New("nothing secret")
	if red.Error(clean) != clean || red.Error(nil) != nil {
		t.Fatal("an error without a secret must come back as it is")
	}
}

// TestRedactorTeachesTheLog: what a step derives (a Basic credential, an
// access token) reaches the worker's log set, so the log redacts it too.
func TestRedactorTeachesTheLog(t *testing.T) {
	seen := &Seen{}
	r := New("")
	r.Watch(seen)
	red := r.NewRedactor()
	red.AddBasic("svc-outflow", "pw-log-0001")
	red.Add("at-issued-access-token")
	var buf bytes.Buffer
	log := slog.New(RedactHandler(slog.NewJSONHandler(&buf, nil), seen))
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:pw-log-0001"))
	log.Warn("activity error", "error", errors.New("401: credentials refused: Basic "+basic), "echo", "Bearer at-issued-access-token")
	if out := buf.String(); strings.Contains(out, basic) || strings.Contains(out, "at-issued-access-token") || !strings.Contains(out, "Basic [REDACTED]") {
		t.Fatalf("log: %s", out)
	}
}

// benchRedactor holds what a step with a basic credential, an OAuth token
// and an API key would: a few values and their forms.
func benchRedactor() *Redactor {
	red := NewRedactor(nil)
	red.AddBasic("svc-outflow", "pw-bench-0001")
	red.Add("eyJhbGciOiJIUzI1NiJ9."+strings.Repeat("eyJzdWIiOiJvdXRmbG93In0", 20)+".c2ln", "rt-bench-refresh-token", "ak-bench/api+key", "cs-bench-client-secret")
	return red
}

// BenchmarkRedactorText redacts a 1 MiB text body with no secret in it,
// the common case.
func BenchmarkRedactorText(b *testing.B) {
	red := benchRedactor()
	body := strings.Repeat("lorem ipsum dolor sit amet, order 12345 shipped; ", 1<<20/50)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = red.Cut(body)
	}
}

// BenchmarkRedactorJSON redacts a parsed 1 MiB JSON body (10k objects).
func BenchmarkRedactorJSON(b *testing.B) {
	red := benchRedactor()
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 10000 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"customer %d","email":"c%d@example.com","status":"active","note":"nothing to see here, move along"}`, i, i, i)
	}
	sb.WriteString("]")
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		b.StopTimer()
		var tree any
		_ = json.Unmarshal([]byte(sb.String()), &tree)
		b.StartTimer()
		_ = red.Value(tree)
	}
}
