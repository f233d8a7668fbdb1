package keystore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func problemCodes(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p.Severity)+":"+string(p.Code))
	}
	return out
}

func TestInspectDiagnoses(t *testing.T) {
	now := fixtureNow(t)
	leaf := fixtureCert(t, "bundle-ordered.pem")
	const month = 30 * 24 * time.Hour

	tests := []struct {
		name, file, password, keyPassword, alias string
		data                                     []byte
		now                                      time.Time
		want                                     []string // severity:code that must be reported
		mention                                  string   // a phrase one of them must contain
		noErrors                                 bool
	}{
		{name: "good jks", file: "kb0696002-good.jks", password: pass, noErrors: true},
		{name: "good p12", file: "client-openssl.p12", password: pass, noErrors: true},
		{name: "good pem", file: "bundle-ordered.pem", want: []string{"info:key_format"}, mention: "PKCS#8", noErrors: true},
		{name: "trusted only", file: "kb0696002-trusted-only.jks", password: pass, want: []string{"error:no_private_key"}, mention: "unsupported protocol"},
		{name: "signed cert under new alias", file: "kb0696002-signed-new-alias.jks", password: pass,
			want: []string{"error:signed_cert_under_other_alias", "warning:self_signed_client"}, mention: `-alias outflowclient `},
		{name: "truststore", file: "truststore.jks", password: pass, want: []string{"info:trust_store_only"}, noErrors: true},
		{name: "wrong store password lists entries", file: "kb0696002-good.jks", password: "nope", want: []string{"error:wrong_store_password"}},
		{name: "wrong key password", file: "jks-key-password.jks", password: pass, want: []string{"error:wrong_key_password"}},
		{name: "no password", file: "kb0696002-good.jks", want: []string{"info:integrity_unchecked", "error:password_missing"}},
		{name: "key mismatch", file: "bundle-key-mismatch.pem", want: []string{"error:key_mismatch"}},
		{name: "out of order", file: "bundle-out-of-order.pem", want: []string{"warning:chain_out_of_order"}, mention: "reorders", noErrors: true},
		{name: "missing intermediate", file: "bundle-missing-intermediate.pem", want: []string{"warning:missing_intermediate"}, mention: "Outflow Fixture Intermediate CA"},
		{name: "issuer not a CA", file: "client-not-ca-issuer.pem", want: []string{"error:issuer_not_ca"}, mention: "does not end with a CA"},
		{name: "self-signed client", file: "client-self-signed.pem", want: []string{"warning:self_signed_client"}},
		{name: "server-only EKU", file: "client-server-eku.pem", want: []string{"error:no_client_auth_eku"}, mention: "serverAuth"},
		{name: "expired", file: "client-expired.pem", want: []string{"error:expired"}, mention: "2021-01-01"},
		{name: "not yet valid", file: "client-not-yet-valid.pem", want: []string{"error:not_yet_valid"}, mention: "2090-01-01"},
		{name: "expiring soon", file: "bundle-ordered.pem", now: leaf.NotAfter.Add(-10 * 24 * time.Hour), want: []string{"warning:expiring_soon"}, mention: "in 10 days", noErrors: true},
		{name: "pkcs1", file: "bundle-pkcs1.pem", want: []string{"info:key_format"}, mention: "openssl pkcs8 -topk8 -nocrypt", noErrors: true},
		{name: "ec", file: "bundle-ec.pem", want: []string{"info:key_format"}, mention: "SEC1", noErrors: true},
		{name: "crlf", file: "bundle-crlf.pem", want: []string{"info:crlf_line_endings"}, noErrors: true},
		{name: "glued", data: glue(fixture(t, "bundle-ordered.pem")), want: []string{"warning:pem_blocks_glued"}, noErrors: true},
		{name: "damaged block", data: []byte(strings.Replace(string(fixture(t, "bundle-ordered.pem")), "-----END CERTIFICATE-----", "-----END CERTIFICATE", 1)),
			want: []string{"warning:pem_block_unreadable"}},
		{name: "csr", file: "client.csr", want: []string{"error:unknown_format"}, mention: "signing request"},
		{name: "ambiguous", file: "jks-two-keys.jks", password: pass, want: []string{"warning:ambiguous_alias"}, noErrors: true},
		{name: "unknown alias", file: "jks-two-keys.jks", password: pass, alias: "gamma", want: []string{"error:unknown_alias"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.file != "" {
				data = fixture(t, tt.file)
			}
			at := tt.now
			if at.IsZero() {
				at = now
			}
			r := Inspect(data, tt.password, tt.keyPassword, tt.alias, at, month)
			got := problemCodes(r.Problems)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("problems %v lack %s", got, w)
				}
			}
			if tt.noErrors && r.HasErrors() {
				t.Errorf("unexpected errors: %v", got)
			}
			if !tt.noErrors && len(tt.want) > 0 && strings.HasPrefix(tt.want[0], "error:") && !r.HasErrors() {
				t.Error("HasErrors = false")
			}
			if tt.mention != "" && !slices.ContainsFunc(r.Problems, func(p Problem) bool { return strings.Contains(p.Message, tt.mention) }) {
				t.Errorf("no problem mentions %q: %+v", tt.mention, r.Problems)
			}
			for i := 1; i < len(r.Problems); i++ {
				if severityRank(r.Problems[i-1].Severity) > severityRank(r.Problems[i].Severity) {
					t.Errorf("problems not ordered by severity: %v", got)
				}
			}
		})
	}
}

func TestInspectWrongPasswordStillListsCertificates(t *testing.T) {
	r := Inspect(fixture(t, "kb0696002-good.jks"), "nope", "", "", fixtureNow(t), 0)
	if len(r.Entries) != 3 {
		t.Fatalf("%d entries, want 3", len(r.Entries))
	}
	var key *EntryReport
	for i := range r.Entries {
		if r.Entries[i].Kind == KindPrivateKey {
			key = &r.Entries[i]
		}
	}
	if key == nil || len(key.Chain) != 3 || key.Chain[0].Subject != "CN=outflow-kb-client,O=Outflow Fixtures" {
		t.Errorf("private-key entry = %+v", key)
	}
}

func TestReportRendering(t *testing.T) {
	now := fixtureNow(t)
	r := Inspect(fixture(t, "kb0696002-signed-new-alias.jks"), pass, "", "", now, 30*24*time.Hour)

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Entries) != 4 || len(back.Problems) != len(r.Problems) || !back.HasErrors() {
		t.Errorf("JSON round trip lost data: %s", b)
	}
	for _, field := range []string{`"fingerprint_sha256"`, `"kind":"private-key"`, `"code":"signed_cert_under_other_alias"`, `"severity":"error"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}

	text := r.Text()
	for _, want := range []string{
		"Format: JKS, 4 entries (1 private key, 3 trusted certificates)",
		`Entry "outflowclient": private key (RSA 2048)  <- presented to servers`,
		`Entry "outflowclient-signed": trusted certificate`,
		"SHA-256:", "Serial:", "Ext. usage:  clientAuth", "CA:          yes, self-signed",
		"ERROR   signed_cert_under_other_alias:",
		"WARNING self_signed_client:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	clean := Inspect(fixture(t, "client-openssl.p12"), pass, "", "", now, time.Hour)
	if !strings.Contains(clean.Text(), "No problems found.") {
		t.Errorf("clean report:\n%s", clean.Text())
	}
	broken := Inspect(nil, "", "", "", now, 0)
	if !strings.Contains(broken.Text(), "Format: not recognised") || !broken.HasErrors() {
		t.Errorf("empty input report:\n%s", broken.Text())
	}
}

func TestCertInfo(t *testing.T) {
	c := fixtureCert(t, "bundle-ordered.pem")
	info := CertInfoOf(c)
	if info.KeyType != "RSA 2048" || info.IsCA || info.SelfSigned || !slices.Contains(info.ExtKeyUsage, "clientAuth") {
		t.Errorf("info = %+v", info)
	}
	if len(info.FingerprintSHA256) != 32*3-1 || strings.ToUpper(info.FingerprintSHA256) != info.FingerprintSHA256 {
		t.Errorf("fingerprint %q", info.FingerprintSHA256)
	}
	if info.Serial == "" || strings.Contains(info.Serial, "-") {
		t.Errorf("serial %q", info.Serial)
	}
}
