"""SignedData (RFC 5652 section 5): one module of values and one per step.

- `values`: `ParsedSignedData`, `ParsedSignerInfo` (what parsing gives) and
  `VerifiedSignedData` (what verifying gives);
- `build`: `build_signed_data` signs with a Signer;
- `parse`: `parse_signed_data` reads any peer's encoding, BER or DER, and
  `parse_signed_envelope` its pkcsPKIEnvelope;
- `verify`: `verify_signed_data` checks the one signature, strictly.

Everything is re-exported here, so ``pyscep.cms.signed`` imports as it did
when it was one module (and `pyscep.cms` re-exports its public names too).
"""

from __future__ import annotations

from .build import _signature_algorithm as _signature_algorithm
from .build import _signing_choice as _signing_choice
from .build import build_signed_data, default_scheme
from .parse import parse_signed_data, parse_signed_envelope
from .values import (
    MAX_CERTIFICATES,
    MAX_SIGNED_ATTRIBUTES,
    MAX_SIGNER_INFOS,
    ParsedSignedData,
    ParsedSignerInfo,
    RawAttributes,
    VerifiedSignedData,
)
from .verify import find_signer_certificate, verify_signed_data

__all__ = [
    "MAX_CERTIFICATES",
    "MAX_SIGNED_ATTRIBUTES",
    "MAX_SIGNER_INFOS",
    "ParsedSignedData",
    "ParsedSignerInfo",
    "RawAttributes",
    "VerifiedSignedData",
    "build_signed_data",
    "default_scheme",
    "find_signer_certificate",
    "parse_signed_data",
    "parse_signed_envelope",
    "verify_signed_data",
]
