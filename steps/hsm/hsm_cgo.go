//go:build cgo

package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/outflow-dev/outflow/steps/keystore"
)

// Supported reports whether this binary can use PKCS#11 modules.
func Supported() bool { return true }

// maxSessions bounds the sessions a Key opens for concurrent handshakes.
const maxSessions = 8

type module struct {
	path string
	ctx  *pkcs11.Ctx
	info pkcs11.Info
}

var registry struct {
	mu      sync.Mutex
	salt    []byte
	modules map[string]*module
	keys    map[string]*Key
	badPINs map[string]map[[sha256.Size]byte]bool // by module|token
	// loggedIn is the PIN this process is logged in to a token with, by
	// module|token. Login is per application, not per session: a second
	// C_Login answers "already logged in" whatever PIN it is given, so a
	// different PIN is checked by logging in again with it.
	loggedIn map[string]string
}

// loadModule loads and initialises a module once per process.
func loadModule(path string) (*module, error) {
	if m := registry.modules[path]; m != nil {
		return m, nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errorf(CodeModule, nil, "the PKCS#11 module %s does not exist on this worker: install the token's library (for SoftHSM2: apt-get install softhsm2) or correct pkcs11.module", path)
	case err != nil:
		return nil, errorf(CodeModule, err, "reading the PKCS#11 module %s", path)
	case !fi.Mode().IsRegular():
		return nil, errorf(CodeModule, nil, "the PKCS#11 module %s is not a file: pkcs11.module names the token's shared library (a .so file)", path)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, errorf(CodeModule, nil, "the PKCS#11 module %s cannot be loaded: it is not a shared library for this machine (%s), or a library it needs is missing", path, "linux")
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, errorf(CodeModule, err, "initialising the PKCS#11 module %s failed (for SoftHSM2, check that SOFTHSM2_CONF names a readable configuration and token folder)", path)
	}
	m := &module{path: path, ctx: ctx}
	m.info, _ = ctx.GetInfo()
	if registry.modules == nil {
		registry.modules = map[string]*module{}
	}
	registry.modules[path] = m
	return m, nil
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// findToken returns the slot of the token labelled label, or an error that
// lists the tokens there are.
func (m *module) findToken(label string) (uint, []string, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, nil, errorf(CodeModule, err, "listing the tokens of PKCS#11 module %s", m.path)
	}
	var labels []string
	found, slot := false, uint(0)
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue // a free slot (SoftHSM2 always keeps one)
		}
		l := strings.TrimRight(ti.Label, " \x00")
		if l == label && !found {
			found, slot = true, s
			continue
		}
		labels = append(labels, l)
	}
	if !found {
		return 0, labels, errorf(CodeTokenNotFound, nil, "the PKCS#11 module %s has no token labelled %q; tokens there: %s", m.path, label, quoteAll(labels))
	}
	return slot, labels, nil
}

func tokenKey(cfg Config) string { return cfg.Module + "\x00" + cfg.TokenLabel }

// login logs the application in to the token on sh. A PIN the token refused
// once is not tried again: tokens lock the PIN after a few wrong ones, and
// a worker would otherwise try at every step.
func login(m *module, sh pkcs11.SessionHandle, cfg Config) error {
	if cfg.PIN == "" {
		return errorf(CodePINIncorrect, nil, "no PIN for token %q: set pkcs11.pin to the secret that holds the token's user PIN", cfg.TokenLabel)
	}
	if registry.salt == nil {
		registry.salt = make([]byte, 32)
		rand.Read(registry.salt)
	}
	d := pinDigest(registry.salt, cfg.PIN)
	if registry.badPINs[tokenKey(cfg)][d] {
		return errorf(CodePINIncorrect, nil, "token %q refused this PIN before, so it is not tried again (tokens lock the PIN after a few wrong ones): correct the secret pkcs11.pin names; the next step tries the new value", cfg.TokenLabel)
	}
	tk := tokenKey(cfg)
	prev, wasIn := registry.loggedIn[tk]
	if wasIn && prev != cfg.PIN {
		// Another PIN opened the token for this process: log out so that
		// the token checks this one, and back in with the old one if it
		// is refused.
		_ = m.ctx.Logout(sh)
	}
	err := m.ctx.Login(sh, pkcs11.CKU_USER, cfg.PIN)
	if err != nil && wasIn && prev != cfg.PIN {
		if m.ctx.Login(sh, pkcs11.CKU_USER, prev) != nil {
			delete(registry.loggedIn, tk)
		}
	}
	switch {
	case err == nil, isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) && (!wasIn || prev == cfg.PIN):
		if registry.loggedIn == nil {
			registry.loggedIn = map[string]string{}
		}
		registry.loggedIn[tk] = cfg.PIN
		return nil
	case isCKR(err, pkcs11.CKR_PIN_INCORRECT), isCKR(err, pkcs11.CKR_PIN_INVALID), isCKR(err, pkcs11.CKR_PIN_LEN_RANGE):
		if registry.badPINs == nil {
			registry.badPINs = map[string]map[[sha256.Size]byte]bool{}
		}
		if registry.badPINs[tokenKey(cfg)] == nil {
			registry.badPINs[tokenKey(cfg)] = map[[sha256.Size]byte]bool{}
		}
		registry.badPINs[tokenKey(cfg)][d] = true
		return errorf(CodePINIncorrect, nil, "token %q refused the PIN (wrong PIN): correct the secret pkcs11.pin names; Outflow will not try this PIN again, since tokens lock the PIN after a few wrong ones", cfg.TokenLabel)
	case isCKR(err, pkcs11.CKR_PIN_LOCKED):
		return errorf(CodePINLocked, nil, "token %q has locked its user PIN after too many wrong ones: its security officer must unlock it (softhsm2-util and pkcs11-tool --init-pin for SoftHSM2)", cfg.TokenLabel)
	case isCKR(err, pkcs11.CKR_PIN_EXPIRED):
		return errorf(CodePINIncorrect, nil, "the user PIN of token %q has expired: set a new one", cfg.TokenLabel)
	}
	return errorf(CodeModule, err, "logging in to token %q", cfg.TokenLabel)
}

// Key is a private key in a token: a crypto.Signer, safe for concurrent
// use, that signs in the token.
type Key struct {
	cfg    Config
	mod    *module
	slot   uint
	handle atomic.Uint64 // pkcs11.ObjectHandle; found again after a logout
	id     []byte
	isRSA  bool
	pub    crypto.PublicKey // nil when the token does not reveal it
	desc   string

	// loginSession stays open: the token forgets the login when the
	// application's last session closes.
	loginSession pkcs11.SessionHandle
	sem          chan struct{}
	idle         chan pkcs11.SessionHandle
	signatures   atomic.Int64
}

// Open finds the key cfg names, logging in to its token with cfg.PIN.
// Errors are *keystore.Error with one of this package's codes.
func Open(cfg Config) (*Key, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.salt == nil {
		registry.salt = make([]byte, 32)
		rand.Read(registry.salt)
	}
	d := pinDigest(registry.salt, cfg.PIN)
	id := strings.Join([]string{cfg.Module, cfg.TokenLabel, cfg.KeyLabel, hex.EncodeToString(d[:])}, "\x00")
	if k := registry.keys[id]; k != nil {
		return k, nil
	}
	m, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	slot, _, err := m.findToken(cfg.TokenLabel)
	if err != nil {
		return nil, err
	}
	sh, err := m.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, errorf(CodeModule, err, "opening a session with token %q", cfg.TokenLabel)
	}
	if err := login(m, sh, cfg); err != nil {
		m.ctx.CloseSession(sh)
		return nil, err
	}
	k := &Key{cfg: cfg, mod: m, slot: slot, loginSession: sh,
		sem: make(chan struct{}, maxSessions), idle: make(chan pkcs11.SessionHandle, maxSessions)}
	if err := k.find(sh); err != nil {
		m.ctx.CloseSession(sh)
		return nil, err
	}
	if registry.keys == nil {
		registry.keys = map[string]*Key{}
	}
	registry.keys[id] = k
	return k, nil
}

// find locates the private key by label and learns its type and, when the
// token tells, its public key.
func (k *Key) find(sh pkcs11.SessionHandle) error {
	ctx, cfg := k.mod.ctx, k.cfg
	objs, err := findObjects(ctx, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, cfg.KeyLabel),
	}, 2)
	if err != nil {
		return errorf(CodeModule, err, "searching token %q for key %q", cfg.TokenLabel, cfg.KeyLabel)
	}
	switch len(objs) {
	case 0:
		labels := privateKeyLabels(ctx, sh)
		return errorf(CodeKeyNotFound, nil, "token %q has no private key labelled %q; private keys there: %s", cfg.TokenLabel, cfg.KeyLabel, quoteAll(labels))
	case 2:
		return errorf(CodeKeyNotFound, nil, "token %q has several private keys labelled %q: give each key its own label", cfg.TokenLabel, cfg.KeyLabel)
	}
	k.handle.Store(uint64(objs[0]))
	attrs, err := ctx.GetAttributeValue(sh, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
	})
	if err != nil || len(attrs) != 2 {
		return errorf(CodeModule, err, "reading key %q of token %q", cfg.KeyLabel, cfg.TokenLabel)
	}
	k.id = attrs[1].Value
	switch kt := bytesUint(attrs[0].Value); kt {
	case pkcs11.CKK_RSA:
		k.isRSA = true
		k.pub = rsaPublic(ctx, sh, objs[0])
	case pkcs11.CKK_EC:
		k.pub = ecPublic(ctx, sh, objs[0], k.id, cfg.KeyLabel)
	default:
		return errorf(CodeKeyType, nil, "key %q of token %q is neither RSA nor ECDSA (key type %#x): TLS client authentication needs one of those", cfg.KeyLabel, cfg.TokenLabel, kt)
	}
	k.desc = fmt.Sprintf("key %q in PKCS#11 token %q", cfg.KeyLabel, cfg.TokenLabel)
	return nil
}

// refind looks the key up again on the login session, logging in first
// if the token forgot the login.
func (k *Key) refind() error {
	if err := login(k.mod, k.loginSession, k.cfg); err != nil {
		return err
	}
	objs, err := findObjects(k.mod.ctx, k.loginSession, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.cfg.KeyLabel),
	}, 2)
	if err != nil {
		return err
	}
	if len(objs) != 1 {
		return errorf(CodeKeyNotFound, nil, "token %q no longer has one private key labelled %q", k.cfg.TokenLabel, k.cfg.KeyLabel)
	}
	k.handle.Store(uint64(objs[0]))
	return nil
}

func findObjects(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	objs, _, err := ctx.FindObjects(sh, max)
	if ferr := ctx.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	return objs, err
}

func privateKeyLabels(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) []string {
	objs, err := findObjects(ctx, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}, 100)
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range objs {
		if a, err := ctx.GetAttributeValue(sh, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)}); err == nil && len(a) == 1 {
			out = append(out, string(a[0].Value))
		}
	}
	slices.Sort(out)
	return out
}

// bytesUint reads a CK_ULONG attribute, in the machine's byte order.
func bytesUint(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

func rsaPublic(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, o pkcs11.ObjectHandle) crypto.PublicKey {
	a, err := ctx.GetAttributeValue(sh, o, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
	})
	if err != nil || len(a) != 2 || len(a[0].Value) == 0 {
		return nil
	}
	e := new(big.Int).SetBytes(a[1].Value)
	if !e.IsInt64() || e.Int64() > 1<<31 {
		return nil
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}
}

var curves = []struct {
	oid   asn1.ObjectIdentifier
	curve elliptic.Curve
}{
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, elliptic.P256()},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 34}, elliptic.P384()},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 35}, elliptic.P521()},
}

// ecPublic reads an EC key's public point: private key objects carry the
// curve but not the point, which is on the public key object with the same
// CKA_ID (or, failing that, the same label).
func ecPublic(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, priv pkcs11.ObjectHandle, id []byte, label string) crypto.PublicKey {
	a, err := ctx.GetAttributeValue(sh, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil)})
	if err != nil || len(a) != 1 {
		return nil
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(a[0].Value, &oid); err != nil {
		return nil
	}
	var curve elliptic.Curve
	for _, c := range curves {
		if c.oid.Equal(oid) {
			curve = c.curve
		}
	}
	if curve == nil {
		return nil
	}
	match := pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)
	if len(id) > 0 {
		match = pkcs11.NewAttribute(pkcs11.CKA_ID, id)
	}
	objs, err := findObjects(ctx, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), match}, 1)
	if err != nil || len(objs) == 0 {
		return nil
	}
	p, err := ctx.GetAttributeValue(sh, objs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil || len(p) != 1 {
		return nil
	}
	point := p[0].Value
	var inner []byte // usually DER OCTET STRING around the point
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil
	}
	return pub
}

// Public returns the key's public half as the token reveals it, nil when
// it does not (then Bind checks a certificate by a test signature).
func (k *Key) Public() crypto.PublicKey { return k.pub }

// String describes the key for logs and messages.
func (k *Key) String() string { return k.desc }

// Signatures counts the signatures made with the key.
func (k *Key) Signatures() int64 { return k.signatures.Load() }

// Bind checks that cert belongs to the key and returns the signer a TLS
// handshake presents with it: k, answering Public with cert's key.
func (k *Key) Bind(cert *x509.Certificate) (crypto.Signer, error) {
	mismatch := func() error {
		return errorf(keystore.CodeKeyMismatch, nil, "the certificate %s does not belong to %s: its public key is another; "+
			"use the certificate issued for this key, or the key label of the certificate's key", cert.Subject, k.desc)
	}
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if !k.isRSA {
			return nil, mismatch()
		}
	case *ecdsa.PublicKey:
		if k.isRSA {
			return nil, mismatch()
		}
	default:
		return nil, errorf(CodeKeyType, nil, "the certificate %s has a %T key; a PKCS#11 key signs RSA and ECDSA only", cert.Subject, cert.PublicKey)
	}
	if eq, ok := k.pub.(interface{ Equal(crypto.PublicKey) bool }); ok && k.pub != nil {
		if !eq.Equal(cert.PublicKey) {
			return nil, mismatch()
		}
		return &bound{k, cert.PublicKey}, nil
	}
	// The token keeps the public half to itself: sign and verify.
	digest := sha256.Sum256([]byte("outflow key check"))
	b := &bound{k, cert.PublicKey}
	var opts crypto.SignerOpts = crypto.SHA256
	sig, err := b.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		return nil, err
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			err = errors.New("bad signature")
		}
	}
	if err != nil {
		return nil, mismatch()
	}
	return b, nil
}

// bound is a Key with the public key of the certificate it presents.
type bound struct {
	*Key
	pub crypto.PublicKey
}

func (b *bound) Public() crypto.PublicKey { return b.pub }

func (b *bound) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.Key.sign(b.pub, digest, opts)
}

// Sign signs digest in the token. RSA keys sign PKCS#1 v1.5, or PSS when
// opts is *rsa.PSSOptions; EC keys sign ECDSA, returned ASN.1-encoded as
// crypto/ecdsa does.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.sign(k.pub, digest, opts)
}

func (k *Key) sign(pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, data, err := k.mechanism(pub, digest, opts)
	if err != nil {
		return nil, err
	}
	sig, err := k.withSession(func(sh pkcs11.SessionHandle) ([]byte, error) {
		if err := k.mod.ctx.SignInit(sh, mech, pkcs11.ObjectHandle(k.handle.Load())); err != nil {
			return nil, err
		}
		return k.mod.ctx.Sign(sh, data)
	})
	if err != nil {
		return nil, errorf(CodeSign, err, "signing with %s", k.desc)
	}
	k.signatures.Add(1)
	if k.isRSA {
		return sig, nil
	}
	// CKM_ECDSA gives r and s side by side, each as long as the order.
	if len(sig)%2 != 0 {
		return nil, errorf(CodeSign, nil, "signing with %s: the token returned an ECDSA signature of odd length %d", k.desc, len(sig))
	}
	half := len(sig) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
}

var hashMechanisms = map[crypto.Hash]struct{ mech, mgf uint }{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA224: {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// mechanism chooses how the token signs, and what it is given to sign.
func (k *Key) mechanism(pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]*pkcs11.Mechanism, []byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("hsm: digest of %d bytes for %s", len(digest), h)
	}
	if !k.isRSA {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, digest, nil
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		hm, ok := hashMechanisms[h]
		if !ok {
			return nil, nil, fmt.Errorf("hsm: RSA-PSS with %s is not supported", h)
		}
		salt := pss.SaltLength
		switch salt {
		case rsa.PSSSaltLengthEqualsHash:
			salt = h.Size()
		case rsa.PSSSaltLengthAuto:
			rpub, ok := pub.(*rsa.PublicKey)
			if !ok {
				return nil, nil, errors.New("hsm: RSA-PSS with an automatic salt length needs the public key")
			}
			salt = (rpub.N.BitLen()-1+7)/8 - 2 - h.Size()
		}
		if salt < 0 {
			return nil, nil, fmt.Errorf("hsm: RSA-PSS salt length %d", pss.SaltLength)
		}
		params := pkcs11.NewPSSParams(hm.mech, hm.mgf, uint(salt))
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, params)}, digest, nil
	}
	if h == 0 {
		// TLS 1.0 and 1.1's MD5+SHA1 is signed without a DigestInfo.
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, digest, nil
	}
	oid, ok := hashOIDs[h]
	if !ok {
		return nil, nil, fmt.Errorf("hsm: RSA PKCS#1 v1.5 with %s is not supported", h)
	}
	info, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}{pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, digest})
	if err != nil {
		return nil, nil, err
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, info, nil
}

// withSession runs f on one of the key's sessions, opening one when none is
// idle and fewer than maxSessions are open. A session whose operation failed
// is closed rather than reused; if the token forgot the login (it was
// removed and put back), the key logs in again and f runs once more.
func (k *Key) withSession(f func(pkcs11.SessionHandle) ([]byte, error)) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		k.sem <- struct{}{}
		var sh pkcs11.SessionHandle
		select {
		case sh = <-k.idle:
		default:
			var err error
			if sh, err = k.mod.ctx.OpenSession(k.slot, pkcs11.CKF_SERIAL_SESSION); err != nil {
				<-k.sem
				return nil, err
			}
		}
		out, err := f(sh)
		if err == nil {
			k.idle <- sh
			<-k.sem
			return out, nil
		}
		k.mod.ctx.CloseSession(sh)
		<-k.sem
		if attempt == 0 && isCKR(err, pkcs11.CKR_USER_NOT_LOGGED_IN) {
			registry.mu.Lock()
			lerr := login(k.mod, k.loginSession, k.cfg)
			registry.mu.Unlock()
			if lerr == nil {
				continue
			}
		}
		if attempt == 0 && (isCKR(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) || isCKR(err, pkcs11.CKR_KEY_HANDLE_INVALID)) {
			// Handles of private objects do not outlive a logout (another
			// PIN was tried on the token): find the key again.
			registry.mu.Lock()
			ferr := k.refind()
			registry.mu.Unlock()
			if ferr == nil {
				continue
			}
		}
		return nil, err
	}
}

// Inspect describes the token cfg names: its keys and certificates (all of
// them once cfg.PIN opens it, the public ones otherwise), the mechanisms TLS
// needs, and whether cfg.KeyLabel is there. It fails when the module or the
// token cannot be found; a wrong PIN is reported in the result.
func Inspect(cfg Config) (*TokenReport, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	slot, others, err := m.findToken(cfg.TokenLabel)
	if err != nil {
		return nil, err
	}
	lib := strings.TrimSpace(strings.TrimSpace(m.info.ManufacturerID) + " " + strings.TrimSpace(m.info.LibraryDescription))
	rep := &TokenReport{Module: cfg.Module, Library: fmt.Sprintf("%s %d.%d", lib, m.info.LibraryVersion.Major, m.info.LibraryVersion.Minor), TokenLabel: cfg.TokenLabel, OtherTokens: others}
	if ti, err := m.ctx.GetTokenInfo(slot); err == nil {
		rep.Manufacturer, rep.Model, rep.Serial = strings.TrimSpace(ti.ManufacturerID), strings.TrimSpace(ti.Model), strings.TrimSpace(ti.SerialNumber)
	}
	if mechs, err := m.ctx.GetMechanismList(slot); err == nil {
		for _, mm := range mechs {
			switch mm.Mechanism {
			case pkcs11.CKM_RSA_PKCS:
				rep.Mechanisms = append(rep.Mechanisms, "RSA-PKCS")
			case pkcs11.CKM_RSA_PKCS_PSS:
				rep.Mechanisms = append(rep.Mechanisms, "RSA-PKCS-PSS")
			case pkcs11.CKM_ECDSA:
				rep.Mechanisms = append(rep.Mechanisms, "ECDSA")
			}
		}
	}
	sh, err := m.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, errorf(CodeModule, err, "opening a session with token %q", cfg.TokenLabel)
	}
	defer m.ctx.CloseSession(sh)
	if cfg.PIN != "" {
		if err := login(m, sh, cfg); err != nil {
			rep.SelectedError = err.Error()
		} else {
			rep.LoggedIn = true
		}
	}
	keys, _ := findObjects(m.ctx, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}, 100)
	for _, o := range keys {
		a, err := m.ctx.GetAttributeValue(sh, o, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		})
		if err != nil || len(a) != 3 {
			continue
		}
		ki := KeyInfo{Label: string(a[0].Value), ID: hex.EncodeToString(a[1].Value), Type: "unknown"}
		switch bytesUint(a[2].Value) {
		case pkcs11.CKK_RSA:
			ki.Type = "RSA"
			if pub := rsaPublic(m.ctx, sh, o); pub != nil {
				ki.Type = keyType(pub)
			}
		case pkcs11.CKK_EC:
			ki.Type = "ECDSA"
			if pub := ecPublic(m.ctx, sh, o, a[1].Value, ki.Label); pub != nil {
				ki.Type = keyType(pub)
			}
		}
		rep.Keys = append(rep.Keys, ki)
		if ki.Label == cfg.KeyLabel && rep.SelectedKey == nil {
			sel := ki
			rep.SelectedKey = &sel
		}
	}
	certs, _ := findObjects(m.ctx, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)}, 100)
	for _, o := range certs {
		a, err := m.ctx.GetAttributeValue(sh, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil || len(a) != 1 {
			continue
		}
		if c, err := x509.ParseCertificate(a[0].Value); err == nil {
			rep.Certificates = append(rep.Certificates, c)
		}
	}
	if cfg.KeyLabel != "" && rep.SelectedKey == nil && rep.SelectedError == "" {
		var labels []string
		for _, k := range rep.Keys {
			labels = append(labels, k.Label)
		}
		what := "private keys there"
		if !rep.LoggedIn {
			what = "private keys visible without the PIN"
		}
		rep.SelectedError = errorf(CodeKeyNotFound, nil, "token %q has no private key labelled %q; %s: %s", cfg.TokenLabel, cfg.KeyLabel, what, quoteAll(labels)).Error()
	}
	return rep, nil
}
