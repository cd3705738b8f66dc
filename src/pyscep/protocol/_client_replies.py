"""The client's reading of a CertRep: verified, opened, and judged into an event.

Steps only, no state of their own: `ScepClient.receive` and `ScepClient.reopen`
call them. A CertRep (RFC 8894 section 3.3.2) is verified against the CA and
the request it answers; its SUCCESS content becomes `CRLReceived`,
`CertificatesReceived`, or, for an enrollment, `CertificateIssued` only when
the certificate is for the requested key and subject, signed by the CA of
GetCACert and valid at ``now`` (`CertificateRefused`, with why, otherwise).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate, names_equal
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import MessageType
from pyscep.errors import LocalProtocolError, RemoteProtocolError
from pyscep.messages import (
    CACertificates,
    CertsOnly,
    DecryptedContent,
    PKIMessage,
    parse_pki_message,
    verify_cert_rep,
)
from pyscep.protocol import _client_state as st
from pyscep.protocol.events import (
    CertificateIssued,
    CertificateRefused,
    CertificatesReceived,
    ClientEvent,
    CRLReceived,
)
from pyscep.protocol.profiles import InteropProfile

__all__ = ["CLOCK_SKEW", "content_event", "open_cert_rep", "refusal"]

#: How far ahead of the client's clock a new certificate's notBefore may be (clocks differ).
CLOCK_SKEW = timedelta(minutes=5)


def open_cert_rep(
    reply: bytes,
    exchange: st.Exchange,
    ca: CACertificates,
    *,
    profile: InteropProfile,
    algorithms: AlgorithmPolicy,
) -> PKIMessage:
    """``reply`` parsed and verified as the CertRep to ``exchange``, signed for ``ca``."""
    return verify_cert_rep(
        parse_pki_message(reply),
        ca_certificates=ca.verification,
        request=exchange.built,
        algorithms=algorithms,
        strict_recipient_nonce=profile.strict_recipient_nonce,
    )


def content_event(
    content: DecryptedContent,
    exchange: st.Exchange,
    ca: CACertificates,
    algorithms: AlgorithmPolicy,
    now: datetime,
    *,
    allow_subject_rewrite: bool,
) -> ClientEvent:
    """The event a SUCCESS's decrypted ``content`` makes, for the request it answers."""
    if not isinstance(content, CertsOnly):
        raise LocalProtocolError("a CertRep SUCCESS carries a certs-only SignedData")
    if isinstance(exchange, st.Querying):
        if exchange.kind is MessageType.GET_CRL:
            return CRLReceived(crls=content.crls)
        return CertificatesReceived(certificates=content.certificates)
    if not content.certificates:
        raise RemoteProtocolError("the CertRep carries no certificate")
    # The certificate for the requested key, wherever DER sorted it; with none for the
    # key, the first is judged, and refused for it.
    issued = content.for_key(exchange.requested_key) or content.certificates[0]
    txid = exchange.built.transaction_id
    reason = refusal(
        issued, exchange, ca, algorithms, now, allow_subject_rewrite=allow_subject_rewrite
    )
    if reason is not None:
        return CertificateRefused(certificate=issued, reason=reason, transaction_id=txid)
    chain = tuple(c for c in content.certificates if c != issued)
    return CertificateIssued(certificate=issued, chain=chain, transaction_id=txid)


def refusal(
    issued: Certificate,
    enrollment: st.Enrolling,
    ca: CACertificates,
    algorithms: AlgorithmPolicy,
    now: datetime,
    *,
    allow_subject_rewrite: bool,
) -> str | None:
    """Why ``issued`` is not the certificate requested, or None: the one acceptance check."""
    if issued.public_key_der != enrollment.requested_key:
        return "it is not for the requested key"
    # The CA's key, whoever signed the CertRep (an RA signs replies, not certificates).
    if not is_issued_by(issued, ca.ca, backend=get_backend(), algorithms=algorithms):
        return f"it is not signed by the CA ({ca.ca.subject})"
    if now + CLOCK_SKEW < issued.not_valid_before:
        return f"it is not valid before {issued.not_valid_before.isoformat()}"
    if now > issued.not_valid_after:
        return f"it expired at {issued.not_valid_after.isoformat()}"
    requested = enrollment.poll.subject_der
    if not allow_subject_rewrite and not names_equal(issued.subject_der, requested):
        return f"it is for another subject ({issued.subject})"
    return None
