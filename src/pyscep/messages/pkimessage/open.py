"""A received pkiMessage in one call: parse, verify and decrypt (RFC 8894 section 3.2).

`open_request` is the server side, `open_cert_rep` the client side; each
runs the three steps of the modules beside this one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyscep._der import DEFAULT_LIMITS, Limits
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly
from pyscep.crypto import CryptoBackend, Decrypter
from pyscep.enums import PKIStatus
from pyscep.errors import ParseError, ScepError
from pyscep.messages.pkimessage.decrypt import decrypt_pki_message
from pyscep.messages.pkimessage.parse import parse_pki_message
from pyscep.messages.pkimessage.values import DecryptedContent, PKIMessage, RequestReference
from pyscep.messages.pkimessage.verify import verify_cert_rep, verify_request
from pyscep.messages.reply import ReplyTo, answerable

__all__ = ["open_cert_rep", "open_request"]


def open_request(
    data: bytes,
    decrypter: Decrypter,
    *,
    certificates: Sequence[Certificate] = (),
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[PKIMessage, DecryptedContent]:
    """Server side in one call: parse, `verify_request`, then decrypt.

    Every error raised once the signature has checked out carries
    ``reply_to`` (a `ReplyTo` mirroring the verified request) and its
    ``fail_info``, so the server can answer the CertRep FAILURE RFC 8894
    requires: ``build_cert_rep_failure(ReplyTo.of_error(error), error.fail_info, ...)``.
    Errors before that carry a bare ``reply_to`` when the transactionID and
    senderNonce could be read, and none when the bytes are no pkiMessage
    (answer HTTP 400).
    """
    message = verify_request(
        parse_pki_message(data, limits=limits),
        certificates=certificates,
        algorithms=algorithms,
        backend=backend,
    )
    try:
        return message, decrypt_pki_message(message, decrypter, backend=backend)
    except ScepError as exc:
        # Same error, same text: only the reply context is added (to a copy).
        raise answerable(exc, ReplyTo.of(message)) from exc


def open_cert_rep(
    data: bytes,
    decrypter: Decrypter,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    strict_recipient_nonce: bool = True,
) -> tuple[PKIMessage, CertsOnly | None]:
    """Client side in one call: parse, `verify_cert_rep`, and decrypt a SUCCESS."""
    message = verify_cert_rep(
        parse_pki_message(data),
        ca_certificates=ca_certificates,
        request=request,
        algorithms=algorithms,
        backend=backend,
        strict_recipient_nonce=strict_recipient_nonce,
    )
    if message.pki_status is not PKIStatus.SUCCESS:
        return message, None
    content = decrypt_pki_message(message, decrypter, backend=backend)
    if not isinstance(content, CertsOnly):  # pragma: no cover - CertRep content is certs-only
        raise ParseError("CertRep content is not a certs-only SignedData")
    return message, content
