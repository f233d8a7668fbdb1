package keystore

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Report is everything Inspect found in a keystore: its entries, each
// certificate in detail, and the problems. It marshals to JSON as is.
type Report struct {
	Format    Format        `json:"format,omitempty"`
	CheckedAt time.Time     `json:"checked_at"`
	Entries   []EntryReport `json:"entries"`
	Problems  []Problem     `json:"problems"`
}

// EntryReport describes one entry of the store.
type EntryReport struct {
	Alias string    `json:"alias"`
	Kind  EntryKind `json:"kind"`
	// Selected marks the private-key entry a profile with this alias (or
	// none) would present.
	Selected  bool       `json:"selected,omitempty"`
	KeyType   string     `json:"key_type,omitempty"`
	KeyFormat string     `json:"key_format,omitempty"`
	Chain     []CertInfo `json:"chain"`
}

// CertInfo describes one certificate.
type CertInfo struct {
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer"`
	Serial            string    `json:"serial"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	KeyType           string    `json:"key_type"`
	KeyUsage          []string  `json:"key_usage,omitempty"`
	ExtKeyUsage       []string  `json:"ext_key_usage,omitempty"`
	IsCA              bool      `json:"is_ca"`
	SelfSigned        bool      `json:"self_signed"`
	DNSNames          []string  `json:"dns_names,omitempty"`
	IPAddresses       []string  `json:"ip_addresses,omitempty"`
}

// NameSettings rewrites the problems' words for where the passwords come
// from: they name a profile's keystore.password and keystore.key_password,
// which a caller that takes them otherwise (certs inspect: --password and
// --key-password) renames.
func (r *Report) NameSettings(password, keyPassword string) {
	rep := strings.NewReplacer(
		"set keystore.key_password", "give "+keyPassword,
		"set keystore.password", "give "+password,
		"keystore.key_password", keyPassword,
		"keystore.password", password,
	)
	for i := range r.Problems {
		r.Problems[i].Message = rep.Replace(r.Problems[i].Message)
	}
}

// Inspect reads a keystore and reports everything in it, with the problems
// found at now; certificates expiring within warnWithin are warned about.
// It never fails: what cannot be read becomes a problem, and whatever could be
// read is still listed (a JKS opened with a wrong password still shows its
// certificates, which JKS does not encrypt).
func Inspect(data []byte, password, keyPassword, alias string, now time.Time, warnWithin time.Duration) Report {
	r := Report{CheckedAt: now, Entries: []EntryReport{}}
	var problems []Problem
	addErr := func(err error) {
		var e *Error
		if errors.As(err, &e) {
			problems = append(problems, e.Problem())
			return
		}
		problems = append(problems, Problem{Code: CodeCorrupt, Severity: SeverityError, Message: err.Error()})
	}

	s, err := read(data, password, keyPassword)
	if err != nil {
		addErr(err)
	}
	if s == nil {
		// What could not be opened was still recognised.
		r.Format = sniff(data)
		r.Problems = problems
		return r
	}
	r.Format = s.Format
	if err == nil {
		if err := s.choose(alias); err != nil {
			addErr(err)
		}
		// Decrypt the other keys too, so every wrong key password shows.
		for _, e := range s.PrivateKeyEntries() {
			if e.decrypt != nil {
				if err := e.decrypt(); err != nil {
					addErr(err)
				}
			}
		}
		if s.selectErr != nil && s.selectErr.Code == CodeAmbiguousAlias {
			p := s.selectErr.Problem()
			p.Severity = SeverityWarning
			problems = append(problems, p)
		}
	}
	problems = append(problems, s.Problems(now, warnWithin)...)

	seen := map[string]bool{}
	for _, p := range problems {
		key := string(p.Code) + "\x00" + p.Alias + "\x00" + p.Subject + "\x00" + p.Message
		if !seen[key] {
			seen[key] = true
			r.Problems = append(r.Problems, p)
		}
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int { return severityRank(a.Severity) - severityRank(b.Severity) })

	for _, e := range s.Entries {
		er := EntryReport{Alias: e.Alias, Kind: e.Kind, Selected: e == s.selected, KeyType: e.KeyType, KeyFormat: e.KeyFormat, Chain: []CertInfo{}}
		for _, c := range e.Chain {
			er.Chain = append(er.Chain, CertInfoOf(c))
		}
		r.Entries = append(r.Entries, er)
	}
	return r
}

// HasErrors reports whether any problem has severity error.
func (r *Report) HasErrors() bool {
	return slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Severity == SeverityError })
}

// CertInfoOf describes c.
func CertInfoOf(c *x509.Certificate) CertInfo {
	info := CertInfo{
		Subject:           c.Subject.String(),
		Issuer:            c.Issuer.String(),
		Serial:            SerialHex(c.SerialNumber),
		FingerprintSHA256: Fingerprint(c),
		NotBefore:         c.NotBefore.UTC(),
		NotAfter:          c.NotAfter.UTC(),
		KeyType:           keyType(c.PublicKey),
		KeyUsage:          keyUsageNames(c.KeyUsage),
		ExtKeyUsage:       extKeyUsageNames(c),
		IsCA:              c.BasicConstraintsValid && c.IsCA,
		SelfSigned:        isSelfSigned(c),
		DNSNames:          c.DNSNames,
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	return info
}

// Fingerprint is the SHA-256 of the certificate's DER, as colon-separated
// upper-case hex: the form keytool and browsers show.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return colonHex(sum[:])
}

// SerialHex writes a serial number as colon-separated hex, as openssl does.
func SerialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + colonHex(new(big.Int).Neg(n).Bytes())
	}
	b := n.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	return colonHex(b)
}

func colonHex(b []byte) string {
	var sb strings.Builder
	for i, v := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", v)
	}
	return sb.String()
}

var keyUsageBits = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "nonRepudiation"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func keyUsageNames(u x509.KeyUsage) []string {
	var out []string
	for _, b := range keyUsageBits {
		if u&b.bit != 0 {
			out = append(out, b.name)
		}
	}
	return out
}

// Text renders the report for people, in the spirit of keytool -list -v but
// with the chain in order and the problems spelled out.
func (r *Report) Text() string {
	var sb strings.Builder
	_ = r.WriteText(&sb)
	return sb.String()
}

// WriteText writes Text to w.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	switch {
	case r.Format == "":
		ew.printf("Format: not recognised\n")
	case len(r.Entries) == 0 && r.HasErrors():
		// Recognised, but not opened (a wrong or missing password): the
		// problems below say why.
		ew.printf("Format: %s, not opened\n", r.Format)
	default:
		keys := 0
		for _, e := range r.Entries {
			if e.Kind == KindPrivateKey {
				keys++
			}
		}
		trusted := len(r.Entries) - keys
		ew.printf("Format: %s, %d %s (%d %s, %d %s)\n", r.Format,
			len(r.Entries), plural(len(r.Entries), "entry", "entries"),
			keys, plural(keys, "private key", "private keys"),
			trusted, plural(trusted, "trusted certificate", "trusted certificates"))
	}
	for _, e := range r.Entries {
		ew.printf("\n")
		name := quoteAlias(e.Alias)
		switch e.Kind {
		case KindPrivateKey:
			key := e.KeyType
			if e.KeyFormat != "" {
				key += ", " + e.KeyFormat
			}
			if key == "" {
				key = "not decrypted"
			}
			sel := ""
			if e.Selected {
				sel = "  <- presented to servers"
			}
			ew.printf("Entry %s: private key (%s)%s\n", name, key, sel)
			if len(e.Chain) == 0 {
				ew.printf("  no certificate\n")
			} else {
				ew.printf("  Chain, leaf first (%d %s):\n", len(e.Chain), plural(len(e.Chain), "certificate", "certificates"))
			}
		default:
			ew.printf("Entry %s: trusted certificate\n", name)
		}
		for i, c := range e.Chain {
			writeCert(ew, i, c, r.CheckedAt)
		}
	}
	ew.printf("\n")
	if len(r.Problems) == 0 {
		ew.printf("No problems found.\n")
	} else {
		ew.printf("Problems:\n")
		for _, p := range r.Problems {
			ew.printf("  %-7s %s: %s\n", strings.ToUpper(string(p.Severity)), p.Code, p.Message)
		}
	}
	return ew.err
}

func writeCert(w *errWriter, i int, c CertInfo, now time.Time) {
	w.printf("  [%d] %s\n", i, c.Subject)
	row := func(label, value string) {
		if value != "" {
			w.printf("      %-12s %s\n", label+":", value)
		}
	}
	row("Issuer", c.Issuer)
	row("Serial", c.Serial)
	row("SHA-256", c.FingerprintSHA256)
	validity := fmt.Sprintf("%s until %s", c.NotBefore.Format(time.DateTime+" MST"), c.NotAfter.Format(time.DateTime+" MST"))
	switch {
	case now.IsZero():
	case now.After(c.NotAfter):
		validity += " (EXPIRED)"
	case now.Before(c.NotBefore):
		validity += " (NOT YET VALID)"
	default:
		validity += fmt.Sprintf(" (%s left)", ago(c.NotAfter.Sub(now)))
	}
	row("Valid", validity)
	row("Key", c.KeyType)
	row("Usage", strings.Join(c.KeyUsage, ", "))
	row("Ext. usage", strings.Join(c.ExtKeyUsage, ", "))
	kind := "no"
	if c.IsCA {
		kind = "yes"
	}
	if c.SelfSigned {
		kind += ", self-signed"
	}
	row("CA", kind)
	row("DNS names", strings.Join(c.DNSNames, ", "))
	row("IPs", strings.Join(c.IPAddresses, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
