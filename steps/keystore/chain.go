package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
)

// maxChain bounds chain building; real chains have two to four certificates.
const maxChain = 10

// buildChain returns leaf followed by its issuers found in pool, in order,
// stopping at a self-signed certificate or when the next issuer is absent.
func buildChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	for cur := leaf; len(chain) < maxChain && !isSelfSigned(cur); {
		next := findIssuer(cur, pool, chain)
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

// findIssuer picks the certificate in pool that issued child: same name, and,
// when there are several (a renewed CA), the one whose key identifier or
// signature matches.
func findIssuer(child *x509.Certificate, pool, exclude []*x509.Certificate) *x509.Certificate {
	var candidates []*x509.Certificate
	for _, c := range pool {
		if bytes.Equal(c.RawSubject, child.RawIssuer) && !slices.ContainsFunc(exclude, c.Equal) {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) <= 1 {
		if len(candidates) == 1 {
			return candidates[0]
		}
		return nil
	}
	for _, c := range candidates {
		if len(child.AuthorityKeyId) > 0 && bytes.Equal(c.SubjectKeyId, child.AuthorityKeyId) {
			return c
		}
	}
	for _, c := range candidates {
		if c.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil {
			return c
		}
	}
	return candidates[0]
}

// isSelfSigned reports whether c names itself as issuer and, when it says
// which key signed it, names its own key.
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || len(c.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

// isIssuerOfAny reports whether c issued some other certificate in pool.
func isIssuerOfAny(c *x509.Certificate, pool []*x509.Certificate) bool {
	for _, o := range pool {
		if o != c && !o.Equal(c) && bytes.Equal(o.RawIssuer, c.RawSubject) {
			return true
		}
	}
	return false
}

// inStoredOrder reports whether the chain's certificates appear in stored
// (the order of the file) leaf first, each issuer after what it signed.
func inStoredOrder(chain, stored []*x509.Certificate) bool {
	last := -1
	for _, c := range chain {
		i := slices.IndexFunc(stored, c.Equal)
		if i < 0 {
			continue
		}
		if i < last {
			return false
		}
		last = i
	}
	return true
}

// pairKeys builds private-key entries for keys from certs: each key gets the
// certificate holding its public key, then that certificate's issuers. A key
// no certificate matches gets the one end-entity certificate when there is
// exactly one key (so the report can say "key does not match"), otherwise
// none. Certificates used by no chain become trusted-certificate entries.
func pairKeys(keys []parsedKey, certs []*x509.Certificate, checkOrder bool) (entries []*Entry, notes []Problem) {
	used := map[*x509.Certificate]bool{}
	for _, k := range keys {
		e := &Entry{Alias: k.alias, Kind: KindPrivateKey, key: k.key, KeyType: keyType(k.key.Public()), KeyFormat: k.format}
		var leaf *x509.Certificate
		for _, c := range certs {
			if publicKeysEqual(c.PublicKey, k.key.Public()) && (k.leafHint == nil || c.Equal(k.leafHint)) {
				leaf = c
				break
			}
		}
		if leaf == nil && k.leafHint != nil {
			leaf, e.mismatch = k.leafHint, true
		}
		if leaf == nil && len(keys) == 1 {
			var ends []*x509.Certificate
			for _, c := range certs {
				if !c.IsCA && !isIssuerOfAny(c, certs) {
					ends = append(ends, c)
				}
			}
			if len(ends) == 1 {
				leaf, e.mismatch = ends[0], true
			}
		}
		if leaf != nil {
			e.Chain = buildChain(leaf, certs)
			for _, c := range e.Chain {
				used[c] = true
			}
			if checkOrder && len(e.Chain) > 1 && !inStoredOrder(e.Chain, certs) {
				notes = append(notes, outOfOrder(e))
			}
		}
		entries = append(entries, e)
	}
	return entries, notes
}

func outOfOrder(e *Entry) Problem {
	return Problem{Code: CodeChainOutOfOrder, Severity: SeverityWarning, Alias: e.Alias, Subject: e.Chain[0].Subject.String(),
		Message: fmt.Sprintf("the certificates %sare not in chain order (client certificate, then each issuer up to the root); "+
			"Outflow reorders them when it presents the chain, but other tools (ServiceNow's MID server, Java, nginx) need the order fixed in the file",
			entryName(e))}
}

func trustedEntries(certs []*x509.Certificate, used func(*x509.Certificate) bool, alias func(*x509.Certificate) string) []*Entry {
	var out []*Entry
	for _, c := range certs {
		if used(c) {
			continue
		}
		out = append(out, &Entry{Alias: alias(c), Kind: KindTrustedCert, Chain: []*x509.Certificate{c}})
	}
	return out
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	if a == nil || b == nil {
		return false
	}
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// keyType describes a public key: "RSA 2048", "ECDSA P-256", "Ed25519".
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		return ""
	}
	return fmt.Sprintf("%T", pub)
}

func rsaBits(c *x509.Certificate) int {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

var ekuNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
	x509.ExtKeyUsageIPSECEndSystem:  "ipsecEndSystem",
	x509.ExtKeyUsageIPSECTunnel:     "ipsecTunnel",
	x509.ExtKeyUsageIPSECUser:       "ipsecUser",
}

func extKeyUsageNames(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := ekuNames[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage(%d)", u))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}
