"""The CMS engine under the SCEP messages (internal API: may change between releases).

- `signed`: SignedData build, parse and verify (RFC 5652 section 5).
- `enveloped`: EnvelopedData with KeyTransRecipientInfo, build, parse, open
  (RFC 5652 section 6).
- `degenerate`: certs-only SignedData (RFC 8894 section 3.4).

Input may be BER; output is always DER. Every parser raises `ParseError`
for malformed input; checks raise `VerificationError`,
`UnsupportedAlgorithmError` or `DecryptionError`.
"""
