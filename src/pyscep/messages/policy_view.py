"""From a received request to what the policy evaluator decides on (`pyscep.policy.RequestView`).

The policy package is standalone (it imports nothing from the message
layer); this adapter is the one place that fills its input from messages.
"""

from __future__ import annotations

from pyscep.certificate import Certificate
from pyscep.errors import LocalProtocolError
from pyscep.messages.content import CertificationRequest
from pyscep.messages.pkimessage.values import PKIMessage, UnverifiedPKIMessage
from pyscep.policy import ChallengeVerdict, DistinguishedName, PublicKeyView, RequestView

__all__ = ["policy_request_view"]


def policy_request_view(
    message: PKIMessage | UnverifiedPKIMessage,
    csr: CertificationRequest | None = None,
    *,
    challenge: ChallengeVerdict | None = None,
    certificates: tuple[Certificate, ...] = (),
) -> RequestView:
    """The `RequestView` of an enrollment or renewal request.

    For a verified message, ``csr`` is its decrypted content and the signer
    is the certificate that verified it. An unverified message (its
    signature failed) is described by what it claims: its signer (looked up
    among the embedded certificates and ``certificates``), whose subject and
    key stand in for the CSR's; the evaluator rejects it at its first rule.
    ``challenge`` is the application's verdict on the challengePassword (absent
    when not given).
    """
    if isinstance(message, PKIMessage):
        if csr is None:
            raise LocalProtocolError("a verified request's view needs its decrypted CSR")
        signer, verified = message.signer_certificate, True
    else:
        claimed = message.claimed_signer(certificates)
        if claimed is None:
            raise LocalProtocolError("the message names no signer certificate that is known")
        signer, verified = claimed, False
    subject_der = csr.subject_der if csr is not None else signer.subject_der
    key = csr.public_key if csr is not None else signer.public_key
    return RequestView(
        message_type=message.message_type,
        subject=DistinguishedName.from_der(subject_der),
        public_key=PublicKeyView.of(key),
        signer=signer,
        signature_verified=verified,
        challenge=challenge if challenge is not None else ChallengeVerdict.absent(),
        subject_alt_names=csr.subject_alt_names if csr is not None else (),
        extended_key_usages=csr.extended_key_usages if csr is not None else None,
        transaction_id=message.transaction_id,
        requested_validity=csr.requested_validity if csr is not None else None,
        certificate_template=csr.certificate_template if csr is not None else None,
        requested_sids=csr.requested_sids if csr is not None else (),
    )
