package keystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Encrypted PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") is what `openssl pkcs8
// -topk8` and most tools write. The standard library and x/crypto do not
// decrypt it, so this file implements the one scheme in use, PBES2 (RFC 8018
// section 6.2): PBKDF2 derives a key from the password, AES-CBC or
// DES-EDE3-CBC decrypts.

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}

	oidPKCS5PBES1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5}
	oidPKCS12PBE   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
	oidDESEDE3CBC  = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidAES128CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidHMACWithSHA = asn1.ObjectIdentifier{1, 2, 840, 113549, 2}
)

// maxIterations bounds PBKDF2 work: real files use 2048 (OpenSSL) to a few
// hundred thousand; a damaged or hostile file must not stall a worker.
const maxIterations = 10_000_000

var prfs = map[int]func() hash.Hash{
	7:  sha1.New,
	8:  sha256.New224,
	9:  sha256.New,
	10: sha512.New384,
	11: sha512.New,
	12: sha512.New512_224,
	13: sha512.New512_256,
}

type pbes2Cipher struct {
	keyLen int
	block  func([]byte) (cipher.Block, error)
}

var pbes2Ciphers = []struct {
	oid asn1.ObjectIdentifier
	pbes2Cipher
}{
	{oidAES128CBC, pbes2Cipher{16, aes.NewCipher}},
	{oidAES192CBC, pbes2Cipher{24, aes.NewCipher}},
	{oidAES256CBC, pbes2Cipher{32, aes.NewCipher}},
	{oidDESEDE3CBC, pbes2Cipher{24, des.NewTripleDESCipher}},
}

var errMalformedPKCS8 = errors.New("malformed EncryptedPrivateKeyInfo")

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo and returns the PKCS#8
// PrivateKeyInfo inside. A wrong password yields errWrongPassword.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	in := cryptobyte.String(der)
	var info, algo, params, encrypted cryptobyte.String
	var scheme asn1.ObjectIdentifier
	if !in.ReadASN1(&info, cbasn1.SEQUENCE) ||
		!info.ReadASN1(&algo, cbasn1.SEQUENCE) ||
		!algo.ReadASN1ObjectIdentifier(&scheme) {
		return nil, errMalformedPKCS8
	}
	if !scheme.Equal(oidPBES2) {
		return nil, unsupportedScheme(scheme)
	}
	if !algo.ReadASN1(&params, cbasn1.SEQUENCE) || !info.ReadASN1(&encrypted, cbasn1.OCTET_STRING) {
		return nil, errMalformedPKCS8
	}

	var kdf, kdfParams, enc cryptobyte.String
	var kdfOID, encOID asn1.ObjectIdentifier
	if !params.ReadASN1(&kdf, cbasn1.SEQUENCE) || !kdf.ReadASN1ObjectIdentifier(&kdfOID) ||
		!params.ReadASN1(&enc, cbasn1.SEQUENCE) || !enc.ReadASN1ObjectIdentifier(&encOID) {
		return nil, errMalformedPKCS8
	}
	if !kdfOID.Equal(oidPBKDF2) {
		if kdfOID.Equal(oidScrypt) {
			return nil, newError(CodeUnsupported, nil, "the private key is encrypted with scrypt, which Outflow does not read; "+
				"re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-aes.pem")
		}
		return nil, newError(CodeUnsupported, nil, "the private key's key derivation %s is not supported (PBKDF2 is)", kdfOID)
	}
	if !kdf.ReadASN1(&kdfParams, cbasn1.SEQUENCE) {
		return nil, errMalformedPKCS8
	}

	var salt []byte
	var iterations int
	if !kdfParams.ReadASN1Bytes(&salt, cbasn1.OCTET_STRING) || !kdfParams.ReadASN1Integer(&iterations) {
		return nil, errMalformedPKCS8
	}
	keyLen := 0
	if kdfParams.PeekASN1Tag(cbasn1.INTEGER) && !kdfParams.ReadASN1Integer(&keyLen) {
		return nil, errMalformedPKCS8
	}
	prf := sha1.New // the default of PBKDF2-params
	if !kdfParams.Empty() {
		var prfAlgo cryptobyte.String
		var prfOID asn1.ObjectIdentifier
		if !kdfParams.ReadASN1(&prfAlgo, cbasn1.SEQUENCE) || !prfAlgo.ReadASN1ObjectIdentifier(&prfOID) {
			return nil, errMalformedPKCS8
		}
		var ok bool
		if len(prfOID) == len(oidHMACWithSHA)+1 && prfOID[:len(oidHMACWithSHA)].Equal(oidHMACWithSHA) {
			prf, ok = prfs[prfOID[len(oidHMACWithSHA)]]
		}
		if !ok {
			return nil, newError(CodeUnsupported, nil, "the private key's PBKDF2 pseudo-random function %s is not supported", prfOID)
		}
	}
	if iterations < 1 || iterations > maxIterations {
		return nil, fmt.Errorf("%w: iteration count %d out of range", errMalformedPKCS8, iterations)
	}

	var ciph *pbes2Cipher
	for i := range pbes2Ciphers {
		if pbes2Ciphers[i].oid.Equal(encOID) {
			ciph = &pbes2Ciphers[i].pbes2Cipher
		}
	}
	if ciph == nil {
		return nil, newError(CodeUnsupported, nil, "the private key's cipher %s is not supported (AES-CBC and DES-EDE3-CBC are); "+
			"re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-aes.pem", encOID)
	}
	var iv []byte
	if !enc.ReadASN1Bytes(&iv, cbasn1.OCTET_STRING) {
		return nil, errMalformedPKCS8
	}
	if keyLen != 0 && keyLen != ciph.keyLen {
		return nil, fmt.Errorf("%w: key length %d does not fit the cipher", errMalformedPKCS8, keyLen)
	}

	key, err := pbkdf2.Key(prf, password, salt, iterations, ciph.keyLen)
	if err != nil {
		return nil, fmt.Errorf("deriving the key: %w", err)
	}
	block, err := ciph.block(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	if len(iv) != bs || len(encrypted) == 0 || len(encrypted)%bs != 0 {
		return nil, errMalformedPKCS8
	}
	plain := make([]byte, len(encrypted))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, encrypted)
	return unpad(plain, bs)
}

// unpad removes PKCS#7 padding. Bad padding almost always means a wrong
// password: the key decrypted garbage.
func unpad(b []byte, blockSize int) ([]byte, error) {
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize || n > len(b) {
		return nil, errWrongPassword
	}
	for _, p := range b[len(b)-n:] {
		if int(p) != n {
			return nil, errWrongPassword
		}
	}
	return b[:len(b)-n], nil
}

func unsupportedScheme(oid asn1.ObjectIdentifier) error {
	if len(oid) > len(oidPKCS5PBES1) && oid[:len(oidPKCS5PBES1)].Equal(oidPKCS5PBES1) ||
		len(oid) > len(oidPKCS12PBE) && oid[:len(oidPKCS12PBE)].Equal(oidPKCS12PBE) {
		return newError(CodeUnsupported, nil, "the private key is encrypted with an old scheme (%s, PBES1 or PKCS#12 PBE) that Outflow does not read; "+
			"re-encrypt it with PBES2: openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-aes.pem", oid)
	}
	return newError(CodeUnsupported, nil, "the private key's encryption scheme %s is not supported (PBES2 is)", oid)
}
