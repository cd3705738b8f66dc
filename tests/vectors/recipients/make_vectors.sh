#!/bin/sh
# Regenerate the recipient vectors (openssl side). Run from this directory; the
# committed files are what the tests read, so rerunning changes them (new keys,
# new randomness) and manifest.json must be rewritten to match.
set -eu
openssl version
plain="pyscep recipient vector: the content-encryption key reaches the right party"
printf '%s' "$plain" > plaintext.txt
for curve in P-256:prime256v1 P-384:secp384r1 P-521:secp521r1; do
    name=${curve%%:*}; ossl=${curve##*:}
    openssl ecparam -name "$ossl" -genkey -noout -out "keys/ec-$name.key.tmp"
    openssl pkcs8 -topk8 -nocrypt -in "keys/ec-$name.key.tmp" -out "keys/ec-$name.key"
    rm "keys/ec-$name.key.tmp"
    openssl req -new -x509 -key "keys/ec-$name.key" -subj "/CN=recipient $name" -days 36500 \
        -addext keyUsage=keyAgreement -out "keys/ec-$name.crt"
done
openssl cms -encrypt -binary -aes128 -recip keys/ec-P-256.crt -in plaintext.txt \
    -outform DER -out openssl-kari-p256-sha1kdf-aes128.der
openssl cms -encrypt -binary -aes256 -recip keys/ec-P-384.crt -keyopt ecdh_kdf_md:sha256 \
    -in plaintext.txt -outform DER -out openssl-kari-p384-sha256kdf-aes256.der
openssl cms -encrypt -binary -aes192 -recip keys/ec-P-521.crt -keyopt ecdh_kdf_md:sha512 \
    -in plaintext.txt -outform DER -out openssl-kari-p521-sha512kdf-aes192.der
for cipher in aes128 aes256 des3; do
    openssl cms -encrypt -binary -$cipher -pwri_password "challenge-password" -in plaintext.txt \
        -outform DER -out "openssl-pwri-$cipher.der"
done
