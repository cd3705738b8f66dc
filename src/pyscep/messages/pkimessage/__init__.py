"""pkiMessage (RFC 8894 section 3.2) in three explicit steps: parse, verify, decrypt.

One module of values and one per step:

- `values`: `UnverifiedPKIMessage`, `PKIMessage` and the parts they
  describe (`SignerIdentifier`, `PSSParameters`, `RequestReference`,
  `DecryptedContent`);
- `parse`: `parse_pki_message` turns any bytes into an
  `UnverifiedPKIMessage` or raises ParseError;
- `verify`: `verify_request` (server side) and `verify_cert_rep` (client
  side) check the signature and the SCEP rules and return a `PKIMessage`, a
  different type, so unchecked content cannot be used by accident;
- `decrypt`: `decrypt_pki_message` opens the pkcsPKIEnvelope of a verified
  message and returns its typed content; `issued_certificate`;
- `open`: `open_request` and `open_cert_rep` run all three.

Everything is re-exported here, so ``pyscep.messages.pkimessage`` imports
as it did when it was one module (and `pyscep.messages` re-exports it too).
"""

from __future__ import annotations

# content_of: not public, but importable from here before the split (inspect used it).
from pyscep.messages.pkimessage.decrypt import content_of as content_of
from pyscep.messages.pkimessage.decrypt import decrypt_pki_message, issued_certificate
from pyscep.messages.pkimessage.open import open_cert_rep, open_request
from pyscep.messages.pkimessage.parse import parse_pki_message
from pyscep.messages.pkimessage.values import (
    DecryptedContent,
    PKIMessage,
    PSSParameters,
    RequestReference,
    SignerIdentifier,
    UnverifiedPKIMessage,
)
from pyscep.messages.pkimessage.verify import verify_cert_rep, verify_request

__all__ = [
    "DecryptedContent",
    "PKIMessage",
    "PSSParameters",
    "RequestReference",
    "SignerIdentifier",
    "UnverifiedPKIMessage",
    "decrypt_pki_message",
    "issued_certificate",
    "open_cert_rep",
    "open_request",
    "parse_pki_message",
    "verify_cert_rep",
    "verify_request",
]
