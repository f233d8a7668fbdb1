package keystore

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity says how much a Problem matters.
type Severity string

const (
	// SeverityError means the keystore will not work as a client keystore
	// (or, for a trust store, not as one).
	SeverityError Severity = "error"
	// SeverityWarning means it may work, or works now but will stop.
	SeverityWarning Severity = "warning"
	// SeverityInfo is a fact worth knowing; nothing needs doing.
	SeverityInfo Severity = "info"
)

// Code identifies a kind of problem. Codes are stable: tests, the CLI and
// users' scripts match on them.
type Code string

// The problems Outflow diagnoses in keystores and certificate bundles.
const (
	CodeUnknownFormat       Code = "unknown_format"
	CodeCorrupt             Code = "corrupt"
	CodeUnsupported         Code = "unsupported"
	CodePasswordMissing     Code = "password_missing"
	CodeWrongStorePassword  Code = "wrong_store_password"
	CodeWrongKeyPassword    Code = "wrong_key_password"
	CodeNoPrivateKey        Code = "no_private_key"
	CodeSignedCertElsewhere Code = "signed_cert_under_other_alias"
	CodeTrustStoreOnly      Code = "trust_store_only"
	CodeNoCertificate       Code = "no_certificate"
	CodeKeyMismatch         Code = "key_mismatch"
	CodeAmbiguousAlias      Code = "ambiguous_alias"
	CodeUnknownAlias        Code = "unknown_alias"
	CodeAliasNotKeyEntry    Code = "alias_not_key_entry"
	CodeAliasUnchecked      Code = "alias_unchecked"
	CodeChainOutOfOrder     Code = "chain_out_of_order"
	CodeMissingIntermediate Code = "missing_intermediate"
	CodeIssuerNotCA         Code = "issuer_not_ca"
	CodeSelfSignedClient    Code = "self_signed_client"
	CodeNoClientAuthEKU     Code = "no_client_auth_eku"
	CodeExpired             Code = "expired"
	CodeNotYetValid         Code = "not_yet_valid"
	CodeExpiringSoon        Code = "expiring_soon"
	CodeWeakKey             Code = "weak_key"
	CodeKeyFormat           Code = "key_format"
	CodeCRLF                Code = "crlf_line_endings"
	CodeGluedPEM            Code = "pem_blocks_glued"
	CodeUnreadableBlock     Code = "pem_block_unreadable"
	CodeIgnoredBlock        Code = "pem_block_ignored"
	CodeBadCertificate      Code = "bad_certificate"
	CodeIntegrityUnchecked  Code = "integrity_unchecked"
)

// Problem is one finding about a keystore, in plain words.
type Problem struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	// Message says what is wrong and what to do, in plain words.
	Message string `json:"message"`
	// Alias is the entry the problem is about, when it is about one.
	Alias string `json:"alias,omitempty"`
	// Subject is the certificate the problem is about, when it is about one.
	Subject string `json:"subject,omitempty"`
}

// Error is returned when a keystore cannot be used. It carries the same code
// and plain-words message as the Problem that explains it, and wraps the
// library error, if any, that revealed it. Messages never contain passwords
// or key bytes.
type Error struct {
	Code    Code
	Message string
	Alias   string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Problem returns the error as a Problem of severity error.
func (e *Error) Problem() Problem {
	return Problem{Code: e.Code, Severity: SeverityError, Message: e.Message, Alias: e.Alias}
}

func newError(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Problems diagnoses the store: the notes taken while reading it, the
// certificates' validity at now (warning when one expires within warnWithin),
// the chain of every private-key entry, and the pitfalls of keystores built
// with keytool. Problems are ordered by severity, then as found.
func (s *Store) Problems(now time.Time, warnWithin time.Duration) []Problem {
	var out []Problem
	out = append(out, s.notes...)

	keys := s.PrivateKeyEntries()
	out = append(out, s.trustedOnlyProblems(keys)...)
	for _, e := range keys {
		out = append(out, entryProblems(e)...)
	}

	seen := map[*x509.Certificate]bool{}
	for _, e := range s.Entries {
		for i, c := range e.Chain {
			if seen[c] {
				continue
			}
			seen[c] = true
			sev := SeverityError
			if e.Kind == KindTrustedCert || i == len(e.Chain)-1 && i > 0 && isSelfSigned(c) {
				// An expired trusted or root certificate only matters if a
				// chain needs it; the servers' view decides.
				sev = SeverityWarning
			}
			out = append(out, validityProblems(c, e.Alias, now, warnWithin, sev)...)
		}
	}

	slices.SortStableFunc(out, func(a, b Problem) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	return out
}

func severityRank(s Severity) int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// trustedOnlyProblems explains a store without a usable key: the keytool
// pitfall where the CA-signed certificate ends up as a trusted entry, apart
// from its private key.
func (s *Store) trustedOnlyProblems(keys []*Entry) []Problem {
	var trusted []*Entry
	for _, e := range s.Entries {
		if e.Kind == KindTrustedCert {
			trusted = append(trusted, e)
		}
	}

	var out []Problem
	for _, t := range trusted {
		if len(t.Chain) == 0 {
			continue
		}
		for _, k := range keys {
			if k.key == nil && k.public == nil || len(k.Chain) == 0 || k.Chain[0].Equal(t.Chain[0]) {
				continue
			}
			if publicKeysEqual(t.Chain[0].PublicKey, k.publicKey()) {
				out = append(out, Problem{
					Code: CodeSignedCertElsewhere, Severity: SeverityError, Alias: k.Alias,
					Subject: t.Chain[0].Subject.String(),
					Message: fmt.Sprintf("the certificate for the private key %s was imported as a separate trusted-certificate entry %s, "+
						"so the key entry still presents its own certificate (%s) and the server rejects it; "+
						"import the signed certificate onto the key entry's alias: keytool -importcert -trustcacerts -alias %s -file signed.cer "+
						"(delete the stray entry with keytool -delete -alias %s)",
						quoteAlias(k.Alias), quoteAlias(t.Alias), k.Chain[0].Subject, k.Alias, t.Alias),
				})
			}
		}
	}
	if len(keys) > 0 || len(trusted) == 0 || s.keyUnread {
		// With a key that could not be read, the error that says why is
		// the problem, not a missing key.
		return out
	}

	var endEntity []*x509.Certificate
	for _, t := range trusted {
		if len(t.Chain) > 0 && !t.Chain[0].IsCA {
			endEntity = append(endEntity, t.Chain[0])
		}
	}
	if len(endEntity) == 0 {
		return append(out, Problem{
			Code: CodeTrustStoreOnly, Severity: SeverityInfo,
			Message: fmt.Sprintf("the store holds %d trusted CA certificate(s) and no private key: usable as a truststore, not as a client keystore", len(trusted)),
		})
	}
	if s.Format == FormatPEM || s.Format == FormatDER {
		return append(out, Problem{
			Code: CodeNoPrivateKey, Severity: SeverityError, Subject: endEntity[0].Subject.String(),
			Message: fmt.Sprintf("the file holds the certificate %s but no private key: a client keystore needs both; "+
				"add the private key (a \"BEGIN PRIVATE KEY\" block) to the bundle, after the certificates", endEntity[0].Subject),
		})
	}
	return append(out, Problem{
		Code: CodeNoPrivateKey, Severity: SeverityError, Subject: endEntity[0].Subject.String(),
		Message: fmt.Sprintf("the keystore has no private key, only trusted certificates (one of them is the client certificate %s); "+
			"a server asking for a client certificate gets none, which ServiceNow reports as \"unsupported protocol\". "+
			"This happens when the CA-signed certificate is imported under a new alias or into a new keystore: "+
			"-trustcacerts only lets keytool use the CA certificates to build the chain, it does not attach the certificate to a key. "+
			"Import the signed certificate onto the alias that holds the private key (the one used with keytool -genkeypair and -certreq), "+
			"and use that keystore file", endEntity[0].Subject),
	})
}

func entryProblems(e *Entry) []Problem {
	var out []Problem
	add := func(code Code, sev Severity, subject, format string, args ...any) {
		out = append(out, Problem{Code: code, Severity: sev, Alias: e.Alias, Subject: subject, Message: fmt.Sprintf(format, args...)})
	}
	if len(e.Chain) == 0 {
		add(CodeNoCertificate, SeverityError, "", "the private key %shas no certificate: add the certificate the CA issued for it", entryName(e))
		return out
	}
	leaf := e.Chain[0]
	subject := leaf.Subject.String()
	if e.mismatch {
		add(CodeKeyMismatch, SeverityError, subject,
			"the private key %sdoes not belong to the certificate %s: the server would reject the handshake; "+
				"put the key that was used to create the certificate signing request next to its certificate", entryName(e), subject)
	}
	if len(e.Chain) == 1 && isSelfSigned(leaf) {
		add(CodeSelfSignedClient, SeverityWarning, subject,
			"the client certificate %s is self-signed: it only works if the partner trusts this exact certificate; "+
				"most servers (and ServiceNow's MID mutual authentication) need a certificate signed by a CA they trust", subject)
	}
	if !allowsClientAuth(leaf) {
		add(CodeNoClientAuthEKU, SeverityError, subject,
			"the certificate %s is not valid for client authentication: its extended key usage is %s and lacks clientAuth (1.3.6.1.5.5.7.3.2); "+
				"ask the CA for a certificate with the Client Authentication usage", subject, strings.Join(extKeyUsageNames(leaf), ", "))
	}
	for i := 1; i < len(e.Chain); i++ {
		if c := e.Chain[i]; !c.BasicConstraintsValid || !c.IsCA {
			add(CodeIssuerNotCA, SeverityError, c.Subject.String(),
				"the chain does not end with a CA certificate: %s signed %s but is not a CA (basicConstraints CA:FALSE or absent); "+
					"the certificate must be issued by a real CA, and the bundle must contain that CA's chain",
				c.Subject, e.Chain[i-1].Subject)
		}
	}
	if last := e.Chain[len(e.Chain)-1]; !isSelfSigned(last) {
		add(CodeMissingIntermediate, SeverityWarning, last.Subject.String(),
			"the chain stops at %s: its issuer %s is not in the store; unless the server already has that CA, "+
				"it cannot link the client certificate to its trusted root: add the intermediate (and root) certificates after the client certificate",
			last.Subject, last.Issuer)
	}
	if bits := rsaBits(leaf); bits > 0 && bits < 2048 {
		add(CodeWeakKey, SeverityWarning, subject, "the key of %s is RSA %d bits; many servers refuse keys below 2048 bits", subject, bits)
	}
	if e.KeyFormat != "" {
		add(CodeKeyFormat, SeverityInfo, "", "the private key %sis stored as %s%s", entryName(e), e.KeyFormat, keyFormatAdvice(e.KeyFormat))
	}
	return out
}

func keyFormatAdvice(format string) string {
	switch format {
	case KeyPKCS1, KeyPKCS1Encrypted:
		return " (\"BEGIN RSA PRIVATE KEY\"); Outflow reads it, but tools that want PKCS#8, such as ServiceNow's MID manage-certificates, " +
			"report \"Could not find valid private key\": convert with openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem"
	case KeyPKCS8:
		return " (\"BEGIN PRIVATE KEY\"), the form every tool reads"
	case KeySEC1:
		return " (\"BEGIN EC PRIVATE KEY\"); Outflow reads it; tools that want PKCS#8 need: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem"
	}
	return ""
}

func validityProblems(c *x509.Certificate, alias string, now time.Time, warnWithin time.Duration, sev Severity) []Problem {
	subject := c.Subject.String()
	p := Problem{Alias: alias, Subject: subject}
	switch {
	case now.After(c.NotAfter):
		p.Code, p.Severity = CodeExpired, sev
		p.Message = fmt.Sprintf("the certificate %s expired on %s (%s ago); renew it and replace the file", subject, day(c.NotAfter), ago(now.Sub(c.NotAfter)))
	case now.Before(c.NotBefore):
		p.Code, p.Severity = CodeNotYetValid, sev
		p.Message = fmt.Sprintf("the certificate %s is not valid until %s; check the clock of this machine, or wait", subject, day(c.NotBefore))
	case warnWithin > 0 && c.NotAfter.Sub(now) < warnWithin:
		p.Code, p.Severity = CodeExpiringSoon, SeverityWarning
		p.Message = fmt.Sprintf("the certificate %s expires on %s, in %s; renew it before then", subject, day(c.NotAfter), ago(c.NotAfter.Sub(now)))
	default:
		return nil
	}
	return []Problem{p}
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

func ago(d time.Duration) string {
	switch days := int(d.Hours() / 24); {
	case days >= 2:
		return fmt.Sprintf("%d days", days)
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return d.Round(time.Minute).String()
	}
}

func entryName(e *Entry) string {
	if e.Alias == "" {
		return ""
	}
	return fmt.Sprintf("of entry %q ", e.Alias)
}

func quoteAlias(a string) string {
	if a == "" {
		return "(unnamed)"
	}
	return fmt.Sprintf("%q", a)
}

func allowsClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no EKU extension: every usage is allowed
	}
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}
