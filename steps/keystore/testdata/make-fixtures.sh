#!/usr/bin/env bash
# Regenerates the committed keystore fixtures with the tools users have: openssl
# and Java keytool. The files are test data; the passwords are fixed on purpose
# (see README.md). Run from anywhere: ./make-fixtures.sh
#
# Everything is long-lived (20 years) except the deliberately expired and
# not-yet-valid certificates, so the tests do not rot.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PASS=changeit
KEYPASS=keypass1
DAYS=7300
ORG="O=Outflow Fixtures"

command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
command -v keytool >/dev/null || { echo "keytool (a Java JDK) is required" >&2; exit 1; }

rm -f ./*.pem ./*.der ./*.csr ./*.jks ./*.p12 ./*.jceks

cat >"$work/ext.cnf" <<'EOF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[int]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash

[server_only]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:partner.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# An end-entity certificate that someone then used to sign another: the
# "chain does not end with a CA" case.
[not_ca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# openssl ca is the only way openssl 3.0 sets arbitrary validity dates.
mkdir -p "$work/ca"
: >"$work/ca/index.txt"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = fixture
[fixture]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
x509_extensions = client
[anything]
commonName = supplied
organizationName = optional
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl rand -hex 16 >"$work/ca/serial"

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# sign CSR CA-NAME EXTENSION OUT
sign() {
	openssl x509 -req -in "$1" -CA "$work/$2.pem" -CAkey "$work/$2.key" \
		-CAserial "$work/serial.srl" -CAcreateserial -sha256 -days "$DAYS" \
		-extfile "$work/ext.cnf" -extensions "$3" -out "$4" 2>/dev/null
}

# --- the fixture PKI: root -> intermediate -> clients -------------------------
rsa_key "$work/root.key"
openssl req -new -key "$work/root.key" -subj "/CN=Outflow Fixture Root CA/$ORG" -out "$work/root.csr"
openssl x509 -req -in "$work/root.csr" -signkey "$work/root.key" -sha256 -days "$DAYS" \
	-extfile "$work/ext.cnf" -extensions root -out "$work/root.pem" 2>/dev/null
rsa_key "$work/int.key"
openssl req -new -key "$work/int.key" -subj "/CN=Outflow Fixture Intermediate CA/$ORG" -out "$work/int.csr"
sign "$work/int.csr" root int "$work/int.pem"
cp "$work/root.pem" root-ca.pem
cp "$work/int.pem" int-ca.pem
openssl x509 -in root-ca.pem -outform DER -out root-ca.der

# The client of the PEM family: key made by openssl (PKCS#8, unencrypted).
rsa_key "$work/client.key"
openssl req -new -key "$work/client.key" -subj "/CN=outflow-client/$ORG" -out "$work/client.csr"
sign "$work/client.csr" int client "$work/client.pem"
cp "$work/client.csr" client.csr
openssl x509 -in "$work/client.pem" -outform DER -out client.der
openssl pkey -in "$work/client.key" -pubout -out public-key.pem

cat "$work/client.pem" int-ca.pem root-ca.pem "$work/client.key" >bundle-ordered.pem
cat "$work/client.key" "$work/client.pem" int-ca.pem root-ca.pem >bundle-key-first.pem
cat int-ca.pem "$work/client.key" root-ca.pem "$work/client.pem" >bundle-out-of-order.pem
cat "$work/client.pem" root-ca.pem "$work/client.key" >bundle-missing-intermediate.pem
sed 's/$/\r/' bundle-ordered.pem >bundle-crlf.pem

openssl pkey -in "$work/client.key" -traditional -out "$work/client-pkcs1.key"
cat "$work/client.pem" int-ca.pem root-ca.pem "$work/client-pkcs1.key" >bundle-pkcs1.pem

# Encrypted PKCS#8 (PBES2): OpenSSL 3's default (AES-256-CBC, HMAC-SHA256) and
# the 3DES/HMAC-SHA1 variant older tools write.
openssl pkcs8 -topk8 -in "$work/client.key" -v2 aes-256-cbc -v2prf hmacWithSHA256 \
	-passout "pass:$PASS" -out "$work/client-enc-aes.key"
cat "$work/client.pem" int-ca.pem root-ca.pem "$work/client-enc-aes.key" >bundle-pkcs8-encrypted.pem
openssl pkcs8 -topk8 -in "$work/client.key" -v2 des3 -v2prf hmacWithSHA1 \
	-passout "pass:$PASS" -out "$work/client-enc-des3.key"
cat "$work/client.pem" int-ca.pem root-ca.pem "$work/client-enc-des3.key" >bundle-pkcs8-des3.pem
# The old OpenSSL "Proc-Type: 4,ENCRYPTED" PKCS#1 form.
openssl rsa -in "$work/client.key" -traditional -aes256 -passout "pass:$PASS" \
	-out "$work/client-pkcs1-enc.key" 2>/dev/null
cat "$work/client.pem" int-ca.pem root-ca.pem "$work/client-pkcs1-enc.key" >bundle-pkcs1-encrypted.pem

# EC key in SEC1 form ("BEGIN EC PRIVATE KEY").
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ec.key"
openssl req -new -key "$work/ec.key" -subj "/CN=outflow-client-ec/$ORG" -out "$work/ec.csr"
sign "$work/ec.csr" int client "$work/ec.pem"
cat "$work/ec.pem" int-ca.pem root-ca.pem "$work/ec.key" >bundle-ec.pem

# A key that does not belong to the certificate.
rsa_key "$work/other.key"
cat "$work/client.pem" int-ca.pem root-ca.pem "$work/other.key" >bundle-key-mismatch.pem

# --- certificates that are wrong for a client -------------------------------
openssl req -new -key "$work/other.key" -subj "/CN=outflow-expired/$ORG" -out "$work/expired.csr"
openssl ca -batch -config "$work/ca.cnf" -cert "$work/int.pem" -keyfile "$work/int.key" \
	-startdate 20200101000000Z -enddate 20210101000000Z -notext \
	-in "$work/expired.csr" -out "$work/expired.pem" 2>/dev/null
cat "$work/expired.pem" int-ca.pem root-ca.pem "$work/other.key" >client-expired.pem

openssl req -new -key "$work/other.key" -subj "/CN=outflow-future/$ORG" -out "$work/future.csr"
openssl ca -batch -config "$work/ca.cnf" -cert "$work/int.pem" -keyfile "$work/int.key" \
	-startdate 20900101000000Z -enddate 20950101000000Z -notext \
	-in "$work/future.csr" -out "$work/future.pem" 2>/dev/null
cat "$work/future.pem" int-ca.pem root-ca.pem "$work/other.key" >client-not-yet-valid.pem

openssl req -new -key "$work/other.key" -subj "/CN=outflow-self-signed/$ORG" -out "$work/self.csr"
openssl x509 -req -in "$work/self.csr" -signkey "$work/other.key" -sha256 -days "$DAYS" \
	-extfile "$work/ext.cnf" -extensions client_self -out "$work/self.pem" 2>/dev/null
cat "$work/self.pem" "$work/other.key" >client-self-signed.pem

openssl req -new -key "$work/other.key" -subj "/CN=partner.example/$ORG" -out "$work/srv.csr"
sign "$work/srv.csr" int server_only "$work/srv.pem"
cat "$work/srv.pem" int-ca.pem root-ca.pem "$work/other.key" >client-server-eku.pem

rsa_key "$work/notca.key"
openssl req -new -key "$work/notca.key" -subj "/CN=outflow-not-a-ca/$ORG" -out "$work/notca.csr"
sign "$work/notca.csr" int not_ca "$work/notca.pem"
openssl req -new -key "$work/other.key" -subj "/CN=outflow-under-not-a-ca/$ORG" -out "$work/undernotca.csr"
sign "$work/undernotca.csr" notca client "$work/undernotca.pem"
cat "$work/undernotca.pem" "$work/notca.pem" int-ca.pem root-ca.pem "$work/other.key" >client-not-ca-issuer.pem

# --- PKCS#12 written by openssl ------------------------------------------------
openssl pkcs12 -export -in "$work/client.pem" -inkey "$work/client.key" \
	-certfile <(cat int-ca.pem root-ca.pem) -name outflow-client \
	-passout "pass:$PASS" -out client-openssl.p12
openssl pkcs12 -export -legacy -in "$work/client.pem" -inkey "$work/client.key" \
	-certfile <(cat int-ca.pem root-ca.pem) -name outflow-client \
	-passout "pass:$PASS" -out client-legacy.p12
openssl pkcs12 -export -nokeys -in <(cat root-ca.pem int-ca.pem) \
	-passout "pass:$PASS" -out truststore-openssl.p12

# --- the KB0696002 keytool flow -----------------------------------------------
kt() { keytool "$@" -storepass "$PASS" -noprompt 2>/dev/null; }

# keytool_client STORE ALIAS CN: genkeypair, certreq, the CA signs with openssl.
keytool_client() {
	kt -genkeypair -keystore "$1" -storetype JKS -alias "$2" -keypass "$PASS" \
		-keyalg RSA -keysize 2048 -validity "$DAYS" -dname "CN=$3, $ORG"
	kt -certreq -keystore "$1" -storetype JKS -alias "$2" -keypass "$PASS" -file "$work/$2.csr"
	sign "$work/$2.csr" int client "$work/$2-signed.pem"
}
import_cas() {
	kt -importcert -trustcacerts -keystore "$1" -storetype "$2" -alias root-ca -file root-ca.pem
	kt -importcert -trustcacerts -keystore "$1" -storetype "$2" -alias int-ca -file int-ca.pem
}

# Good: the signed certificate goes back onto the key entry's alias.
keytool_client "$work/good.jks" OutflowClient outflow-kb-client
import_cas "$work/good.jks" JKS
kt -importcert -trustcacerts -keystore "$work/good.jks" -storetype JKS -alias OutflowClient \
	-keypass "$PASS" -file "$work/OutflowClient-signed.pem"
cp "$work/good.jks" kb0696002-good.jks

# Broken: the signed certificate imported under a new alias. The key entry
# keeps its self-signed certificate; the signed one is a trusted entry.
keytool_client "$work/newalias.jks" OutflowClient outflow-kb-client
import_cas "$work/newalias.jks" JKS
kt -importcert -trustcacerts -keystore "$work/newalias.jks" -storetype JKS -alias outflowclient-signed \
	-file "$work/OutflowClient-signed.pem"
cp "$work/newalias.jks" kb0696002-signed-new-alias.jks

# Broken: a keystore holding only trusted certificates (the CA chain and the
# signed certificate), no private key: what gets uploaded when the file with
# the key is left behind.
import_cas "$work/trusted-only.jks" JKS
kt -importcert -trustcacerts -keystore "$work/trusted-only.jks" -storetype JKS -alias outflowclient-signed \
	-file "$work/OutflowClient-signed.pem"
cp "$work/trusted-only.jks" kb0696002-trusted-only.jks

# Java 17's default PKCS#12 (PBES2/AES-256, HMAC-SHA256), converted by keytool.
keytool -importkeystore -srckeystore kb0696002-good.jks -srcstoretype JKS -srcstorepass "$PASS" \
	-destkeystore kb0696002-good-keytool.p12 -deststoretype PKCS12 -deststorepass "$PASS" \
	-noprompt >/dev/null 2>&1

# A key password that differs from the store password (JKS allows it).
cp kb0696002-good.jks "$work/keypass.jks"
kt -keypasswd -keystore "$work/keypass.jks" -storetype JKS -alias OutflowClient \
	-keypass "$PASS" -new "$KEYPASS"
cp "$work/keypass.jks" jks-key-password.jks

# Two private-key entries: the alias must choose.
keytool_client "$work/two.jks" Alpha outflow-alpha
import_cas "$work/two.jks" JKS
kt -importcert -trustcacerts -keystore "$work/two.jks" -storetype JKS -alias Alpha \
	-keypass "$PASS" -file "$work/Alpha-signed.pem"
kt -genkeypair -keystore "$work/two.jks" -storetype JKS -alias beta -keypass "$PASS" \
	-keyalg RSA -keysize 2048 -validity "$DAYS" -dname "CN=outflow-beta, $ORG"
kt -certreq -keystore "$work/two.jks" -storetype JKS -alias beta -keypass "$PASS" -file "$work/beta.csr"
sign "$work/beta.csr" int client "$work/beta-signed.pem"
kt -importcert -trustcacerts -keystore "$work/two.jks" -storetype JKS -alias beta \
	-keypass "$PASS" -file "$work/beta-signed.pem"
kt -delete -keystore "$work/two.jks" -storetype JKS -alias root-ca
kt -delete -keystore "$work/two.jks" -storetype JKS -alias int-ca
cp "$work/two.jks" jks-two-keys.jks
keytool -importkeystore -srckeystore jks-two-keys.jks -srcstoretype JKS -srcstorepass "$PASS" \
	-destkeystore two-keys-keytool.p12 -deststoretype PKCS12 -deststorepass "$PASS" \
	-noprompt >/dev/null 2>&1

# Trust stores: CA certificates only.
import_cas "$work/trust.jks" JKS
cp "$work/trust.jks" truststore.jks
import_cas "$work/trust.p12" PKCS12
cp "$work/trust.p12" truststore-keytool.p12

# JCEKS: a Java format Outflow does not read; it must say so plainly.
kt -importcert -keystore "$work/store.jceks" -storetype JCEKS -alias root-ca -file root-ca.pem
cp "$work/store.jceks" store.jceks

chmod 644 ./*.p12 ./*.pem ./*.jks ./*.jceks ./*.der ./*.csr
ls -l "$here"
