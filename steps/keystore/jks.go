package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
)

// jksRaw is one entry as stored in a JKS file, before any decryption.
type jksRaw struct {
	alias string
	key   bool
	certs [][]byte
}

// scanJKS walks the JKS structure and checks every length against the bytes
// that remain. keystore-go allocates whatever a length field says, so a
// damaged file could ask for gigabytes; after this walk it cannot. The walk
// also lists the entries without the password: certificates in a JKS are not
// encrypted, and a report can show them when the password is missing or
// wrong.
func scanJKS(data []byte) ([]jksRaw, error) {
	r := jksReader{b: data}
	if r.u32() != jksMagic {
		return nil, errors.New("not a JKS file")
	}
	version := r.u32()
	if version != 1 && version != 2 {
		return nil, fmt.Errorf("unknown JKS version %d", version)
	}
	count := r.u32()
	var out []jksRaw
	for i := uint32(0); i < count && r.err == nil; i++ {
		tag := r.u32()
		alias := string(r.utf())
		r.skip(8) // creation time
		e := jksRaw{alias: alias}
		switch tag {
		case 1:
			e.key = true
			r.skip(int(r.u32())) // the protected key
			n := r.u32()
			if uint64(n) > uint64(len(r.b)) {
				return nil, fmt.Errorf("entry %d claims %d certificates", i, n)
			}
			for j := uint32(0); j < n && r.err == nil; j++ {
				e.certs = append(e.certs, r.cert(version))
			}
		case 2:
			e.certs = [][]byte{r.cert(version)}
		case 3:
			return nil, newError(CodeUnsupported, nil, "the keystore holds a secret-key entry (%q), which only JCEKS and PKCS#12 stores have; this is not a plain JKS file", alias)
		default:
			return nil, fmt.Errorf("entry %d has unknown tag %d", i, tag)
		}
		out = append(out, e)
	}
	r.skip(20) // SHA-1 integrity digest
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

type jksReader struct {
	b   []byte
	err error
}

func (r *jksReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("the file is truncated or a length field is damaged")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *jksReader) skip(n int) { r.take(n) }

func (r *jksReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *jksReader) utf() []byte {
	if b := r.take(2); b != nil {
		return r.take(int(binary.BigEndian.Uint16(b)))
	}
	return nil
}

func (r *jksReader) cert(version uint32) []byte {
	if version == 2 {
		r.utf() // certificate type, "X.509"
	}
	return r.take(int(r.u32()))
}

func readJKS(data []byte, password, keyPassword string) (*Store, error) {
	raw, err := scanJKS(data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, newError(CodeCorrupt, err, "reading the JKS keystore")
	}
	s := &Store{Format: FormatJKS}
	var all []*x509.Certificate
	parsed := make([][]*x509.Certificate, len(raw))
	for i, e := range raw {
		for j, der := range e.certs {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				s.notes = append(s.notes, Problem{Code: CodeBadCertificate, Severity: SeverityError, Alias: e.alias,
					Message: fmt.Sprintf("certificate %d of entry %q cannot be parsed (%v); it is skipped", j+1, e.alias, err)})
				continue
			}
			parsed[i] = append(parsed[i], c)
			all = append(all, c)
		}
	}

	var ks jks.KeyStore
	var loadErr error
	if password == "" {
		s.notes = append(s.notes, Problem{Code: CodeIntegrityUnchecked, Severity: SeverityInfo,
			Message: "no keystore password was given: the entries are listed, but the file's integrity was not checked and no private key was decrypted"})
	} else {
		ks = jks.New(jks.WithCaseExactAliases())
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			// The structure was walked already, so a failure here is the
			// integrity digest: the password is wrong, or the file was
			// altered.
			loadErr = newError(CodeWrongStorePassword, nil, "the keystore password is wrong: the JKS integrity check fails with it "+
				"(or the file was modified after it was saved); check keystore.password")
		}
	}

	for i, r := range raw {
		stored := parsed[i]
		if !r.key {
			if len(stored) > 0 {
				s.Entries = append(s.Entries, &Entry{Alias: r.alias, Kind: KindTrustedCert, Chain: stored})
			}
			continue
		}
		e := &Entry{Alias: r.alias, Kind: KindPrivateKey}
		if len(stored) > 0 {
			leaf := stored[0]
			e.public = leaf.PublicKey
			e.KeyType = keyType(leaf.PublicKey)
			e.Chain = buildChain(leaf, append(append([]*x509.Certificate{}, stored...), all...))
			if !inStoredOrder(e.Chain, stored) {
				s.notes = append(s.notes, outOfOrder(e))
			}
		}
		e.decrypt = jksDecrypter(e, ks, password, keyPassword, loadErr)
		s.Entries = append(s.Entries, e)
	}
	return s, loadErr
}

// jksDecrypter returns the function that decrypts entry e's key on demand:
// the store password has to be right first (to tell the two passwords apart),
// then the key password, which keytool lets differ.
func jksDecrypter(e *Entry, ks jks.KeyStore, password, keyPassword string, loadErr error) func() error {
	return func() error {
		if e.key != nil {
			return nil
		}
		if password == "" {
			return &Error{Code: CodePasswordMissing, Alias: e.Alias, Message: "no keystore password was given: set keystore.password"}
		}
		if loadErr != nil {
			return loadErr
		}
		kp := keyPassword
		if kp == "" {
			kp = password
		}
		pke, err := ks.GetPrivateKeyEntry(e.Alias, []byte(kp))
		if err != nil {
			msg := fmt.Sprintf("the keystore password is right, but the private key of entry %q has a different password: set keystore.key_password", e.Alias)
			if keyPassword != "" && keyPassword != password {
				msg = fmt.Sprintf("the keystore password is right, but keystore.key_password does not decrypt the private key of entry %q", e.Alias)
			}
			return &Error{Code: CodeWrongKeyPassword, Alias: e.Alias, Message: msg}
		}
		key, _, err := parseKeyDER(pke.PrivateKey, "PRIVATE KEY")
		if err != nil {
			return &Error{Code: CodeCorrupt, Alias: e.Alias, Message: fmt.Sprintf("the private key of entry %q cannot be parsed", e.Alias), Err: err}
		}
		e.key = key
		e.KeyType = keyType(key.Public())
		if len(e.Chain) > 0 && !publicKeysEqual(e.Chain[0].PublicKey, key.Public()) {
			e.mismatch = true
		}
		return nil
	}
}
