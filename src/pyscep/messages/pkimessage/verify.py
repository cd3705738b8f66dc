"""Verifying a pkiMessage (RFC 8894 section 3.2): an `UnverifiedPKIMessage` to a `PKIMessage`.

The second step. `verify_request` (server side) and `verify_cert_rep`
(client side) check the signature and the SCEP rules and return a
`PKIMessage`, which remembers the `AlgorithmPolicy` it was accepted under;
decrypting it and answering it then respect that policy.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.signed import verify_signed_data
from pyscep.crypto import CryptoBackend, get_backend
from pyscep.enums import MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, ScepError, VerificationError
from pyscep.findings import Finding, FindingCode
from pyscep.messages.ca import may_sign
from pyscep.messages.pkimessage.parse import answerable_by_ids, protocol_error
from pyscep.messages.pkimessage.values import (
    PKIMessage,
    RequestReference,
    UnverifiedPKIMessage,
    read_whole,
    signed_data_of,
    verified_message,
)

__all__ = ["verify_cert_rep", "verify_request"]


def _verified(
    message: UnverifiedPKIMessage,
    certificates: Sequence[Certificate],
    algorithms: AlgorithmPolicy,
    backend: CryptoBackend | str | None,
    allowed_signers: Sequence[Certificate] | None,
) -> PKIMessage:
    def only_allowed(signer: Certificate) -> None:
        if allowed_signers is None:
            return
        if signer not in allowed_signers:
            raise VerificationError("the message is signed by a certificate that is not trusted")
        # Whatever the caller trusts, an encryption-only RA certificate does not sign.
        if not may_sign(signer):
            raise VerificationError("the signer certificate may not sign (keyUsage)")

    verified = verify_signed_data(
        signed_data_of(message),
        backend=get_backend(backend),
        algorithms=algorithms,
        certificates=certificates,
        signer_filter=only_allowed,
    )
    return verified_message(
        message,
        signer_certificate=verified.signer_certificate,
        digest=verified.digest,
        algorithms=algorithms,
    )


def verify_request(
    message: UnverifiedPKIMessage,
    *,
    certificates: Sequence[Certificate] = (),
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> PKIMessage:
    """Server side: check a request's signature and SCEP rules; raise, never return False.

    The signer may be any certificate (a self-signed one for initial
    enrollment): who may do what is the policy's decision. ``certificates``
    are searched for the signer besides the embedded ones. ``algorithms``
    is remembered on the result (`PKIMessage.algorithms`).

    Raises RemoteProtocolError (not a request, missing transactionID,
    senderNonce or envelope), VerificationError (signature, messageDigest,
    contentType, signer not found: badMessageCheck or badCertId) and
    UnsupportedAlgorithmError (an algorithm unknown or refused by
    ``algorithms``: badAlg). First, what parse deferred is read: its errors come first.
    """
    read_whole(message, certificates)
    if not message.message_type.is_request:
        raise protocol_error(message, f"{message.message_type.rfc_name} is not a request")
    if not message.transaction_id:
        raise protocol_error(message, "transactionID is missing")
    if message.sender_nonce is None:
        raise protocol_error(message, "senderNonce is missing")
    if message.envelope is None:
        raise protocol_error(message, "the request has no pkcsPKIEnvelope")
    try:
        return _verified(message, certificates, algorithms, backend, None)
    except ScepError as exc:
        # The signature did not check out: the reply is a bare FAILURE.
        completed = answerable_by_ids(exc, message.transaction_id, message.sender_nonce)
        if completed is exc:
            raise
        raise completed from exc


def verify_cert_rep(
    message: UnverifiedPKIMessage,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference | None = None,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    strict_recipient_nonce: bool = True,
) -> PKIMessage:
    """Client side: check a CertRep against the CA/RA certificates and the request sent.

    The signer must be one of ``ca_certificates`` (the GetCACert result; a
    CertRep that does not embed its signer is verified with them).
    With ``request``, the transactionID must match and recipientNonce must echo
    the request's senderNonce; ``strict_recipient_nonce=False`` accepts a
    missing or different recipientNonce (recording a finding) for peers that
    do not echo it.

    Raises RemoteProtocolError (not a CertRep, status rules, IDs that do not
    match the request), VerificationError and UnsupportedAlgorithmError as
    `verify_request` does, and LocalProtocolError without ``ca_certificates``. First,
    what parse deferred is read: its errors come first.
    """
    read_whole(message, ca_certificates)
    if message.message_type is not MessageType.CERT_REP:
        raise protocol_error(message, f"expected CertRep, got {message.message_type.rfc_name}")
    if not ca_certificates:
        raise LocalProtocolError("verify_cert_rep needs the CA/RA certificates to trust")
    verified = _verified(message, ca_certificates, algorithms, backend, ca_certificates)
    status = message.pki_status
    if status is None:
        raise protocol_error(message, "pkiStatus is missing")
    if status is PKIStatus.FAILURE and message.fail_info is None:
        raise protocol_error(message, "FAILURE without failInfo")
    if status is PKIStatus.SUCCESS and message.envelope is None:
        raise protocol_error(message, "SUCCESS without a pkcsPKIEnvelope")
    if status is not PKIStatus.SUCCESS and message.envelope is not None:
        raise protocol_error(message, f"{status.name} must not carry content")
    findings: list[Finding] = []
    if request is not None:
        if message.transaction_id != request.transaction_id:
            raise protocol_error(message, "transactionID does not match the request")
        echoed = message.recipient_nonce is not None and request.sender_nonce is not None
        if not (
            echoed
            and hmac.compare_digest(message.recipient_nonce or b"", request.sender_nonce or b"")
        ):
            if strict_recipient_nonce:
                raise protocol_error(message, "recipientNonce does not echo our senderNonce")
            findings.append(
                Finding(FindingCode.RECIPIENT_NONCE_MISMATCH, "recipientNonce not echoed")
            )
        if message.sender_nonce is not None and message.sender_nonce == request.sender_nonce:
            findings.append(
                Finding(FindingCode.SENDER_NONCE_REUSED, "senderNonce copies the request's")
            )
    return verified_message(
        verified,
        signer_certificate=verified.signer_certificate,
        digest=verified.digest,
        algorithms=algorithms,
        findings=tuple(findings),
    )
