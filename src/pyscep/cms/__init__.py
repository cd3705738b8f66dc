"""The CMS layer under the SCEP messages: public, documented, provisional.

- `signed`: SignedData (RFC 5652 section 5), its values (`signed.values`)
  and one module per step: `signed.build`, `signed.parse`, `signed.verify`.
- `enveloped`: EnvelopedData (RFC 5652 section 6) and AuthEnvelopedData
  (RFC 5083, AES-GCM per RFC 5084), their values (`enveloped.values`) and one
  module per step: `enveloped.build`, `enveloped.parse`, `enveloped.open`; with
  key-transport, key-agreement (`key_agreement`, RFC 5753), KEM (`kem`,
  RFC 9629 with ML-KEM, RFC 9936) and password (`password`, RFC 3211) recipients.
- `degenerate`: certs-only SignedData (RFC 8894 section 3.4).

Stability: provisional until 1.0 (names may change in a minor release, and
the changelog says so); `pyscep.messages` is the stable SCEP API built on it.
Its values hold DER bytes and pyscep values, never asn1crypto objects, and are
the same whichever of pyscep's two parsers read the input.
Input may be BER; output is always DER. Every parser raises `ParseError`
for malformed input; checks raise `VerificationError`,
`UnsupportedAlgorithmError` or `DecryptionError`.
"""

from __future__ import annotations

from pyscep.cms.degenerate import CertsOnly, build_certs_only, parse_certs_only
from pyscep.cms.enveloped.build import (
    build_auth_enveloped_data,
    build_enveloped_data,
    recipient_problem,
    signature_only,
)
from pyscep.cms.enveloped.open import (
    decrypt_envelope,
    key_transport_of,
    open_with_key,
    open_with_password,
)
from pyscep.cms.enveloped.parse import parse_auth_enveloped_data, parse_enveloped_data
from pyscep.cms.enveloped.values import ParsedEnvelope, RecipientView
from pyscep.cms.kem import KemParameters, check_kem, open_kem_recipient
from pyscep.cms.key_agreement import KeyAgreement, check_key_agreement, open_key_agreement
from pyscep.cms.password import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    PasswordParameters,
    check_password_parameters,
    open_password_recipient,
)
from pyscep.cms.signed.build import build_signed_data
from pyscep.cms.signed.parse import parse_signed_data, parse_signed_envelope
from pyscep.cms.signed.values import (
    MAX_CERTIFICATES,
    ParsedSignedData,
    ParsedSignerInfo,
    VerifiedSignedData,
)
from pyscep.cms.signed.verify import verify_signed_data

__all__ = [
    "DEFAULT_ITERATIONS",
    "MAX_CERTIFICATES",
    "MAX_ITERATIONS",
    "CertsOnly",
    "KemParameters",
    "KeyAgreement",
    "ParsedEnvelope",
    "ParsedSignedData",
    "ParsedSignerInfo",
    "PasswordParameters",
    "RecipientView",
    "VerifiedSignedData",
    "build_auth_enveloped_data",
    "build_certs_only",
    "build_enveloped_data",
    "build_signed_data",
    "check_kem",
    "check_key_agreement",
    "check_password_parameters",
    "decrypt_envelope",
    "key_transport_of",
    "open_kem_recipient",
    "open_key_agreement",
    "open_password_recipient",
    "open_with_key",
    "open_with_password",
    "parse_auth_enveloped_data",
    "parse_certs_only",
    "parse_enveloped_data",
    "parse_signed_data",
    "parse_signed_envelope",
    "recipient_problem",
    "signature_only",
    "verify_signed_data",
]
