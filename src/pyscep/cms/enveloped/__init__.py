"""EnvelopedData (pkcsPKIEnvelope, RFC 5652 section 6) and AuthEnvelopedData (RFC 5083):
one module of values and one per step.

- `values`: `ParsedEnvelope` and its `RecipientView` (what parsing gives);
- `build`: `build_enveloped_data` and `build_auth_enveloped_data` to a recipient
  certificate and/or a password; `recipient_problem` and `signature_only` say
  whether a key can take one;
- `parse`: `parse_enveloped_data` and `parse_auth_enveloped_data` read any peer's
  encoding, BER or DER;
- `open`: `decrypt_envelope` and `open_with_password`, which never say why
  they failed, and the diagnostic `open_with_key`.

Everything is re-exported here, so ``pyscep.cms.enveloped`` imports as it did
when it was one module (and `pyscep.cms` re-exports its public names too).
"""

from __future__ import annotations

from .build import (
    SIGNATURE_ONLY_KEYS,
    build_auth_enveloped_data,
    build_enveloped_data,
    recipient_problem,
    signature_only,
)
from .build import _key_transport_algorithm as _key_transport_algorithm
from .build import _transported_key as _transported_key
from .open import decrypt_envelope, key_transport_of, open_with_key, open_with_password
from .parse import parse_auth_enveloped_data, parse_enveloped_data
from .values import MAX_RECIPIENTS, ParsedEnvelope, RecipientView

__all__ = [
    "MAX_RECIPIENTS",
    "SIGNATURE_ONLY_KEYS",
    "ParsedEnvelope",
    "RecipientView",
    "build_auth_enveloped_data",
    "build_enveloped_data",
    "decrypt_envelope",
    "key_transport_of",
    "open_with_key",
    "open_with_password",
    "parse_auth_enveloped_data",
    "parse_enveloped_data",
    "recipient_problem",
    "signature_only",
]
