"""The CMS layer under the SCEP messages: public, documented, provisional.

- `signed`: SignedData build, parse and verify (RFC 5652 section 5).
- `enveloped`: EnvelopedData with KeyTransRecipientInfo, build, parse, open
  (RFC 5652 section 6).
- `degenerate`: certs-only SignedData (RFC 8894 section 3.4).

Stability: provisional until 1.0 (names may change in a minor release, and
the changelog says so); `pyscep.messages` is the stable SCEP API built on it.
Its values hold DER bytes and pyscep values, never asn1crypto objects.
Input may be BER; output is always DER. Every parser raises `ParseError`
for malformed input; checks raise `VerificationError`,
`UnsupportedAlgorithmError` or `DecryptionError`.
"""
