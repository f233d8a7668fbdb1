package httpcall

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// failureSendable reports whether err can be reported to the Temporal
// server: its failure must marshal (a message that is not UTF-8 does not).
func failureSendable(t *testing.T, err error) {
	t.Helper()
	f := temporal.GetDefaultFailureConverter().ErrorToFailure(err)
	if _, merr := proto.Marshal(f); merr != nil {
		t.Fatalf("the step's failure cannot be sent to Temporal (%v): %q", merr, err.Error())
	}
}

// FuzzStatusWords fuzzes what a failed call's message is made of — the
// partner's body (PartnerWords), a bearer challenge (WWW-Authenticate) and
// the Retry-After delay — directly, faster than FuzzResponse can.
func FuzzStatusWords(f *testing.F) {
	for _, seed := range []struct{ body, challenge, retry string }{
		{`{"message":"customer 7 does not exist"}`, "", "7"},
		{`{"error":"invalid_grant","error_description":"expired"}`, `Bearer realm="api", error="invalid_token", error_description="the access token expired"`, "120"},
		{"Kunde nicht gefunden: M\xfcller", `Bearer error="insufficient_scope", scope="orders:read"`, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{strings.Repeat("a", 299) + "ü", `Bearer error_description="a \"quoted\" word\\", error=x`, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{`{"title":"` + strings.Repeat("long ", 100) + `"}`, `Basic realm="x"`, "99999999999"},
		{"", `Bearer error="`, "-1"},
		{"", "", "9300000000"}, // 295 years: past what a Duration holds in nanoseconds
		{"<html><body>502 Bad Gateway</body></html>", `bearer ERROR=invalid_request,error_description=no`, " 30 "},
	} {
		f.Add([]byte(seed.body), seed.challenge, seed.retry)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, challenge, retry string) {
		words := PartnerWords(body)
		// PartnerWords is a short message: 300 characters and an ellipsis.
		if n := utf8.RuneCountInString(words); n > 301 {
			t.Fatalf("PartnerWords gave %d characters", n)
		}
		if !utf8.ValidString(words) {
			t.Fatalf("PartnerWords gave text that is not UTF-8: %q", words)
		}
		cw := challengeWords(challenge)
		if len(cw) > len(challenge)+2 {
			t.Fatalf("challengeWords(%q) = %q, longer than the header", challenge, cw)
		}
		if cw != "" && !strings.EqualFold(strings.Fields(challenge)[0], "Bearer") {
			t.Fatalf("words from a %q challenge: %q", challenge, cw)
		}
		d, ok := retryAfter(retry, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("retryAfter(%q) = %v, %v", retry, d, ok)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(retry), 10, 64); err == nil && n >= 0 && n <= math.MaxInt64/int64(time.Second) && (!ok || d != time.Duration(n)*time.Second) {
			t.Fatalf("retryAfter(%q) = %v, %v, want %ds", retry, d, ok, n)
		}
		resp := &http.Response{StatusCode: 401, Status: "401 Unauthorized", Header: http.Header{"Www-Authenticate": {challenge}, "Retry-After": {retry}}}
		for _, code := range []int{401, 503} {
			resp.StatusCode = code
			err := StatusError(resp, body, "GET https://api.partner.example/v2/orders answered "+strconv.Itoa(code), nil)
			failureSendable(t, err)
		}
	})
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, ok := retryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now)
	if !ok || d != 90*time.Second {
		t.Fatalf("d = %v ok = %v", d, ok)
	}
	if _, ok := retryAfter("soon", now); ok {
		t.Fatal("garbage accepted")
	}
}
