"""The responder's answers: CertReps (RFC 8894 section 3.3.2), signed as it is configured.

Steps only: `CertReps` builds each answer `ScepResponder` gives to a
pkiMessage, whether from a decision just taken or from what the transaction
store holds, with the signer and the profile's CertRep details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyscep.certificate import Certificate
from pyscep.crypto import Signer
from pyscep.enums import FailInfo, PKIStatus
from pyscep.http import CONTENT_TYPE_PKI_MESSAGE, HTTPResponse
from pyscep.messages import (
    MessageOptions,
    ReplyTo,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
)
from pyscep.protocol.config import ResponderConfig
from pyscep.protocol.events import Answered
from pyscep.protocol.transactions import Transaction, TransactionState

__all__ = ["CertReps"]


@dataclass(frozen=True, slots=True)
class CertReps:
    """Builds CertReps signed by ``signer``, with the profile's ``options``."""

    signer: Signer
    options: MessageOptions

    @classmethod
    def of(cls, config: ResponderConfig) -> CertReps:
        """The CertReps ``config``'s responder sends."""
        profile = config.profile
        options = MessageOptions(
            absent_econtent=not profile.empty_econtent,
            rsa_digest_in_signature_oid=profile.rsa_digest_in_signature_oid,
        )
        return cls(config.signer, options)

    def success(
        self,
        reply_to: ReplyTo,
        certificates: Sequence[Certificate] = (),
        *,
        crls: Sequence[bytes] = (),
    ) -> HTTPResponse:
        """SUCCESS with ``certificates`` (the issued one first) or ``crls``."""
        body = build_cert_rep_success(
            reply_to, certificates, crls=crls, signer=self.signer, options=self.options
        )
        return _pki(body)

    def failure(
        self, reply_to: ReplyTo, fail_info: FailInfo, reason: str, text: str | None = None
    ) -> Answered:
        """FAILURE with ``fail_info`` (and ``text`` as failInfoText); ``reason`` is for logs."""
        body = build_cert_rep_failure(
            reply_to, fail_info, text, signer=self.signer, options=self.options
        )
        return Answered(response=_pki(body), reason=reason, pki_status=PKIStatus.FAILURE)

    def pending(self, reply_to: ReplyTo, reason: str) -> Answered:
        """PENDING: the client polls."""
        body = build_cert_rep_pending(reply_to, signer=self.signer, options=self.options)
        return Answered(response=_pki(body), reason=reason, pki_status=PKIStatus.PENDING)

    def from_store(
        self,
        known: Transaction,
        reply_to: ReplyTo,
        why: str,
        issued: Certificate | None = None,
    ) -> Answered:
        """What the stored transaction ``known`` answers: its certificate, FAILURE or PENDING.

        ``issued`` is a certificate just signed, and read when its key was checked: when
        it is the one the transaction holds, it is answered as is, not read again from
        the store's DER (the chain is read from the store, as every certificate of an
        answer to a poll or a retransmission is).
        """
        if known.state is TransactionState.ISSUED:
            certificates = [
                issued
                if index == 0 and issued is not None and der == issued.der
                else Certificate.load(der)
                for index, der in enumerate(known.certificates)
            ]
            return Answered(
                response=self.success(reply_to, certificates),
                reason=f"{why}: already issued",
                pki_status=PKIStatus.SUCCESS,
            )
        if known.state is TransactionState.REJECTED:
            fail_info = known.fail_info or FailInfo.BAD_REQUEST
            return self.failure(reply_to, fail_info, f"{why}: rejected before")
        waiting = "being issued" if known.state is TransactionState.ISSUING else "still pending"
        return self.pending(reply_to, f"{why}: {waiting}")


def _pki(body: bytes) -> HTTPResponse:
    return HTTPResponse(200, CONTENT_TYPE_PKI_MESSAGE, body)
